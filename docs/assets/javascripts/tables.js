// Click a column header to sort any table of the content by that column; click again to reverse.
// Numbers sort as numbers, everything else as text. No dependencies, so the site works offline.
(function () {
  function cellValue(row, index) {
    const text = (row.cells[index] ? row.cells[index].textContent : "").trim();
    const number = Number(text);
    return text !== "" && !Number.isNaN(number) ? number : text.toLowerCase();
  }
  function makeSortable(table) {
    const head = table.tHead;
    const body = table.tBodies[0];
    if (!head || !body || table.dataset.sortable === "off") return;
    Array.from(head.rows[0].cells).forEach((th, index) => {
      th.classList.add("kb-sortable");
      th.setAttribute("role", "button");
      th.addEventListener("click", () => {
        const descending = th.getAttribute("aria-sort") === "ascending";
        Array.from(head.rows[0].cells).forEach((other) => other.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = cellValue(a, index);
          const y = cellValue(b, index);
          const order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  }
  function init() {
    document.querySelectorAll("article table").forEach(makeSortable);
  }
  if (typeof document$ !== "undefined") document$.subscribe(init);
  else document.addEventListener("DOMContentLoaded", init);
})();

// The browse page: load the exported catalog JSON, then filter, sort and count entirely in the browser.
(function () {
  const root = document.getElementById("kb-table");
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const $ = (id) => document.getElementById(id);
  const base = new URL("../", document.baseURI.replace(/browse\/?$/, "browse/"));
  let entries = [];
  let categories = {};
  let sortKey = "year";
  let descending = true;
  const expanded = new Set(); // ids of the rows whose summary is shown
  const COLUMNS = ["title", "authors", "year", "venue", "categories", "links", "impl"];

  function text(value) {
    const span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  }
  function anchor(label, href) {
    const a = document.createElement("a");
    a.textContent = label;
    a.href = href;
    return a;
  }
  // The paper's own page: its URL, else its arXiv abstract, else its DOI (the schema checks each form).
  function paperUrl(e) {
    if (e.url) return e.url;
    if (e.arxiv) return `https://arxiv.org/abs/${encodeURIComponent(e.arxiv)}`;
    return e.doi ? `https://doi.org/${encodeURI(e.doi)}` : "";
  }
  function links(e) {
    const span = document.createElement("span");
    const paper = paperUrl(e);
    if (paper) span.append(anchor(e.kind === "paper" ? "paper" : "page", paper));
    if (e.code && e.code.length) span.append(" ", anchor("code", e.code[0].url));
    return span;
  }
  // The row that unfolds under an entry: its summary (or the request for one), with the fields that a narrow
  // screen hides. Text only, through textContent: a summary holding markup is shown as written.
  function detailRow(e) {
    const tr = document.createElement("tr");
    tr.className = "kb-detail";
    tr.id = `kb-detail-${e.id}`;
    const td = document.createElement("td");
    td.colSpan = COLUMNS.length;
    const summary = document.createElement("p");
    if (e.summary) {
      summary.textContent = e.summary;
    } else {
      const wanted = document.createElement("strong");
      wanted.textContent = "Summary wanted.";
      summary.append(wanted, " Nobody has written this entry's summary yet: see its page to contribute one.");
    }
    const about = document.createElement("p");
    about.className = "kb-detail-about";
    const who = [...(e.authors || []), ...(e.organizations || [])].join(", ");
    about.textContent = [who, e.venue, e.categories.map((c) => categories[c] || c).join(", ")].filter(Boolean).join(" · ");
    td.append(summary, about);
    tr.appendChild(td);
    return tr;
  }
  function toggle(e, tr, button) {
    if (expanded.has(e.id)) {
      expanded.delete(e.id);
      tr.nextElementSibling.remove();
    } else {
      expanded.add(e.id);
      tr.after(detailRow(e));
    }
    button.setAttribute("aria-expanded", String(expanded.has(e.id)));
  }
  // The free text: words match whole words (so "han" finds Han, not Hanson or "enhance"); `author:han`,
  // `venue:iclr`, `title:`, `tag:` and `id:` look in that field only.
  const FIELDS = {
    author: (e) => [...(e.authors || []), ...(e.organizations || [])].join(" "),
    venue: (e) => e.venue || "",
    title: (e) => e.title,
    tag: (e) => (e.tags || []).join(" "),
    id: (e) => [e.id, ...(e.aliases || [])].join(" "),
  };
  const everything = (e) => Object.values(FIELDS).map((f) => f(e)).join(" ");
  function words(value) {
    return value.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "").split(/[^a-z0-9]+/).filter(Boolean);
  }
  function termMatches(e, term) {
    const colon = term.indexOf(":");
    const field = colon > 0 ? term.slice(0, colon) : "";
    const wanted = words(colon > 0 && FIELDS[field] ? term.slice(colon + 1) : term);
    const have = new Set(words(FIELDS[field] ? FIELDS[field](e) : everything(e)));
    return wanted.every((w) => have.has(w));
  }
  function matches(e) {
    const q = $("kb-q").value.trim();
    const cat = $("kb-category").value;
    const venue = $("kb-venue").value;
    const min = parseInt($("kb-year-min").value, 10);
    const max = parseInt($("kb-year-max").value, 10);
    if (cat && !e.categories.includes(cat) && !(e.ancestors || []).includes(cat)) return false;
    if (venue && e.venue !== venue) return false;
    if (!Number.isNaN(min) && !(e.year >= min)) return false;
    if (!Number.isNaN(max) && !(e.year <= max)) return false;
    if ($("kb-code").checked && !(e.code && e.code.length)) return false;
    if ($("kb-impl").checked && !e.reference_impl) return false;
    if (q && !q.split(/\s+/).every((term) => termMatches(e, term))) return false;
    return true;
  }
  function sortValue(e) {
    const v = e[sortKey];
    if (Array.isArray(v)) return v.length ? String(v.length ? v[0].url || v[0] : "") : "";
    return v == null ? "" : typeof v === "number" ? v : String(v).toLowerCase();
  }
  function authorLine(e) {
    const people = e.authors || [];
    if (!people.length) return (e.organizations || []).join(", ");
    const surnames = people.slice(0, 3).map((name) => name.split(/\s+/).pop());
    return surnames.join(", ") + (people.length > 3 ? " et al." : "");
  }
  // The whole view lives in the address: ?q=&category=&venue=&from=&to=&code=1&impl=1&sort=year&desc=1
  const STATE = { q: "kb-q", category: "kb-category", venue: "kb-venue", from: "kb-year-min", to: "kb-year-max" };
  function saveState() {
    const params = new URLSearchParams();
    for (const [key, id] of Object.entries(STATE)) if ($(id).value) params.set(key, $(id).value);
    if ($("kb-code").checked) params.set("code", "1");
    if ($("kb-impl").checked) params.set("impl", "1");
    if (sortKey !== "year" || !descending) params.set("sort", sortKey + (descending ? "-desc" : ""));
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }
  function loadState() {
    const params = new URLSearchParams(location.search);
    for (const [key, id] of Object.entries(STATE)) if (params.has(key)) $(id).value = params.get(key);
    $("kb-code").checked = params.get("code") === "1";
    $("kb-impl").checked = params.get("impl") === "1";
    if (params.has("sort")) {
      const [key, order] = params.get("sort").split("-");
      sortKey = key;
      descending = order === "desc";
    }
  }
  function render() {
    saveState();
    const shown = entries.filter(matches).sort((a, b) => {
      const x = sortValue(a), y = sortValue(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    const body = root.tBodies[0];
    body.replaceChildren();
    for (const e of shown) {
      const tr = document.createElement("tr");
      tr.className = "kb-entry";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "kb-more";
      button.setAttribute("aria-label", "Summary");
      button.setAttribute("aria-controls", `kb-detail-${e.id}`);
      button.setAttribute("aria-expanded", "false");
      const title = document.createElement("span");
      title.append(button, anchor(e.title, new URL(`entries/${e.id}/`, base).href));
      const cells = [
        title,
        text(authorLine(e)),
        text(e.year || ""),
        text(e.venue || ""),
        text(e.categories.map((c) => (categories[c] || c)).join(", ")),
        links(e),
        e.reference_impl ? anchor(e.reference_impl, new URL(`impls/${e.reference_impl}/`, base).href) : text(""),
      ];
      cells.forEach((cell, i) => {
        const td = document.createElement("td");
        td.className = `kb-col-${COLUMNS[i]}`;
        td.appendChild(cell);
        tr.appendChild(td);
      });
      // A click anywhere on the row but on a link unfolds its summary; the button does the same from the keyboard.
      tr.addEventListener("click", (event) => {
        if (!event.target.closest("a")) toggle(e, tr, button);
      });
      body.appendChild(tr);
      if (expanded.has(e.id)) {
        button.setAttribute("aria-expanded", "true");
        body.appendChild(detailRow(e));
      }
    }
    $("kb-count").textContent = `${shown.length} of ${entries.length} entries`;
  }
  function chart(container, counts) {
    const max = Math.max(1, ...Object.values(counts));
    const table = document.createElement("table");
    table.dataset.sortable = "off";
    for (const [label, n] of Object.entries(counts)) {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = label;
      const bar = document.createElement("td");
      const fill = document.createElement("span");
      fill.className = "kb-bar";
      fill.style.width = `${Math.round((200 * n) / max)}px`;
      bar.append(fill, text(` ${n}`));
      tr.append(name, bar);
      table.appendChild(tr);
    }
    container.replaceChildren(table);
  }
  function options(select, values) {
    for (const [value, label] of values) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      select.appendChild(option);
    }
  }
  fetch(new URL("downloads/catalog.json", base))
    .then((response) => response.json())
    .then((data) => {
      entries = data.entries;
      categories = Object.fromEntries(data.categories.map((c) => [c.id, c.title]));
      const ancestors = Object.fromEntries(data.categories.map((c) => [c.id, c.parent]));
      for (const e of entries) {
        e.ancestors = [];
        for (const c of e.categories) for (let p = ancestors[c]; p; p = ancestors[p]) e.ancestors.push(p);
      }
      options($("kb-category"), data.categories.map((c) => [c.id, c.title]));
      options($("kb-venue"), [...new Set(entries.map((e) => e.venue).filter(Boolean))].sort().map((v) => [v, v]));
      loadState(); // after the options exist, so that a shared category or venue can be selected
      const years = {};
      for (const e of entries) if (e.year) years[e.year] = (years[e.year] || 0) + 1;
      chart($("kb-chart-year"), Object.fromEntries(Object.entries(years).sort()));
      const perCategory = {};
      for (const c of data.categories) perCategory[c.title] = entries.filter((e) => e.categories.includes(c.id) || e.ancestors.includes(c.id)).length;
      chart($("kb-chart-category"), perCategory);
      render();
    })
    .catch((error) => { $("kb-count").textContent = `Could not load the catalog: ${error}`; });
  for (const id of ["kb-q", "kb-category", "kb-venue", "kb-year-min", "kb-year-max", "kb-code", "kb-impl"]) {
    $(id).addEventListener("input", render);
  }
  Array.from(root.tHead.rows[0].cells).forEach((th) => {
    th.classList.add("kb-sortable");
    th.addEventListener("click", () => {
      descending = sortKey === th.dataset.key ? !descending : false;
      sortKey = th.dataset.key;
      render();
    });
  });
})();

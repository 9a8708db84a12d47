// MathJax for pymdownx.arithmatex in generic mode (the Material for MkDocs recipe), loaded only on a page that
// has a formula: the 1.2 MB script stays off every other page. Instant navigation keeps one document, so the script
// is added once and later pages are typeset with the running MathJax.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" },
};
const mathjaxSource = new URL("../vendor/mathjax/tex-mml-chtml.js", document.currentScript.src).href;
document$.subscribe(() => {
  if (!document.querySelector(".arithmatex")) return;
  if (window.MathJax.typesetPromise) {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  } else if (!document.querySelector("script[data-mathjax]")) {
    const script = document.createElement("script");
    script.src = mathjaxSource;
    script.async = true;
    script.dataset.mathjax = "";
    document.head.appendChild(script); // MathJax typesets the page itself once it has started
  }
});

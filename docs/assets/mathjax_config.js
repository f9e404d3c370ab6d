// MathJax 2 typesets what pymdownx.arithmatex marks: \( \) inline, \[ \] display.
window.MathJax = {
  tex2jax: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    ignoreClass: ".*",
    processClass: "arithmatex",
  },
  // no locally installed fonts are looked for: the STIX-Web fonts come with the site
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null },
  "fast-preview": { disabled: true },  // its quick preview needs TeX web fonts the site lacks
  AssistiveMML: { disabled: true },  // hidden MathML styled with TeX web fonts the site lacks
  showMathMenu: false,
  messageStyle: "none",
};

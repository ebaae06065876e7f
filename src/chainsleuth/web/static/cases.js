// Case pages: draw each saved trace graph (Cytoscape.js) from its JSON block.
// A static file (the CSP forbids inline scripts).
(function () {
  "use strict";
  if (typeof cytoscape === "undefined") {
    return;
  }
  function short(text) {
    return text && text.length > 16 ? text.slice(0, 8) + "…" + text.slice(-6) : text || "coinbase";
  }
  document.querySelectorAll("[data-case-graph]").forEach(function (box) {
    const block = document.getElementById(box.dataset.caseGraph);
    if (!block) {
      return;
    }
    const graph = JSON.parse(block.textContent);
    const ids = new Set(graph.nodes.map(function (n) { return n.id; }));
    const elements = graph.nodes.map(function (n) {
      return { group: "nodes", data: { id: n.id, label: short(n.address) + " " + (n.asset || "") +
        (n.category ? "\n" + n.category : ""), origin: n.hop === 0 ? 1 : 0, stop: n.stop ? 1 : 0 } };
    }).concat(graph.edges.filter(function (e) { return ids.has(e.source) && ids.has(e.target); })
      .map(function (e, i) {
        return { group: "edges", data: { id: "e" + i, source: e.source, target: e.target,
          label: e.amount + " " + (e.asset || ""), kind: e.kind } };
      }));
    cytoscape({
      container: box,
      elements: elements,
      layout: { name: "breadthfirst", directed: true, spacingFactor: 1.2 },
      wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: { label: "data(label)", "font-size": 9, "text-wrap": "wrap",
          "text-valign": "bottom", "background-color": "#5b7db1", width: 14, height: 14 } },
        { selector: "node[origin = 1]", style: { "background-color": "#d9822b", width: 22, height: 22 } },
        { selector: "node[stop = 1]", style: { shape: "square", "background-color": "#8a3ffc" } },
        { selector: "edge", style: { label: "data(label)", "font-size": 7, width: 1.5,
          "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#9aa5b1",
          "target-arrow-color": "#9aa5b1" } },
      ],
    });
  });
})();

// The trace page: draws the trace's JSON graph with Cytoscape.js; a click on a node adds
// that node's own trace one hop deep; PNG and JSON export. A static file (the CSP forbids
// inline scripts); the data comes in a JSON block of the page.
(function () {
  "use strict";

  const box = document.getElementById("trace-graph");
  const block = document.getElementById("trace-data");
  if (!box || !block || typeof cytoscape === "undefined") {
    return;
  }
  let data = JSON.parse(block.textContent);

  function short(text) {
    return text && text.length > 16 ? text.slice(0, 8) + "…" + text.slice(-6) : text || "coinbase";
  }

  function elements(graph) {
    const out = [];
    graph.nodes.forEach(function (n) {
      out.push({
        group: "nodes",
        data: {
          id: n.id,
          label: short(n.address) + " " + n.asset + (n.category ? "\n" + n.category : ""),
          chain: n.chain,
          address: n.address,
          origin: n.hop === 0 ? 1 : 0,
          stop: n.stop ? 1 : 0,
        },
      });
    });
    graph.edges.forEach(function (e, i) {
      out.push({
        group: "edges",
        data: {
          id: e.tx_hash + ":" + e.source + ":" + e.target + ":" + i,
          source: e.source,
          target: e.target,
          label: e.amount + " " + e.asset + (e.kind !== "flow" ? " (" + e.kind + ")" : ""),
          kind: e.kind,
        },
      });
    });
    return out;
  }

  const cy = cytoscape({
    container: box,
    elements: elements(data),
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
      { selector: "edge[kind = 'bridge'], edge[kind = 'swap']", style: { "line-style": "dashed",
        "line-color": "#d9822b", "target-arrow-color": "#d9822b" } },
    ],
  });

  cy.on("tap", "node", function (event) {
    const node = event.target.data();
    if (!node.address) {
      return;
    }
    const params = new URLSearchParams({
      chain: node.chain,
      address: node.address,
      direction: box.dataset.direction,
      model: box.dataset.model,
      hops: "1",
    });
    fetch("/trace/data?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (more) {
        const fresh = elements(more).filter(function (el) { return cy.getElementById(el.data.id).empty(); });
        cy.add(fresh);
        data = { ...data, nodes: data.nodes.concat(more.nodes), edges: data.edges.concat(more.edges) };
        cy.layout({ name: "breadthfirst", directed: true, spacingFactor: 1.2 }).run();
      })
      .catch(function () { /* the node has no trace of its own: nothing to add */ });
  });

  function download(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-trace-export]");
    if (!button) {
      return;
    }
    if (button.dataset.traceExport === "png") {
      download(cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" }), "trace.png");
    } else {
      download(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), "trace.json");
    }
  });
})();

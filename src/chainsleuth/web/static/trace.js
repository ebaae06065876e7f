// The trace page: draws the trace's JSON graph with Cytoscape.js; a click on a node adds
// that node's own trace one hop deep; export to PNG, SVG, JSON and CSV (edges, nodes). A
// static file (the CSP forbids inline scripts); the data comes in a JSON block of the page.
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
    const kind = button.dataset.traceExport;
    if (kind === "png") {
      download(cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" }), "trace.png");
    } else if (kind === "svg") {
      download(new Blob([svg()], { type: "image/svg+xml" }), "trace.svg");
    } else if (kind === "csv") {
      download(new Blob([csv(EDGE_COLUMNS, data.edges)], { type: "text/csv" }), "trace.csv");
    } else if (kind === "nodes-csv") {
      download(new Blob([csv(NODE_COLUMNS, data.nodes)], { type: "text/csv" }), "trace.nodes.csv");
    } else {
      download(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), "trace.json");
    }
  });

  // CSV: the columns of `chainsleuth trace ... --format csv` (amounts in the smallest unit)
  const EDGE_COLUMNS = ["hop", "kind", "chain", "tx_hash", "release_tx_hash", "time", "source",
    "target", "asset", "amount", "asset_out", "amount_out", "value"];
  const NODE_COLUMNS = ["id", "chain", "address", "asset", "entity", "category", "amount", "hop",
    "stop"];

  function csvField(value) {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function csv(columns, rows) {
    const lines = [columns.join(",")];
    rows.forEach(function (row) {
      lines.push(columns.map(function (c) { return csvField(row[c]); }).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }

  // SVG: the graph as drawn now (positions, colours, shapes, labels of the canvas), written
  // from Cytoscape's model coordinates; one <g> per node and edge carrying its id.
  function xml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function num(x) {
    return (Math.round(x * 100) / 100).toString();
  }

  function textLines(label, x, y, size) {
    return String(label).split("\n").map(function (line, i) {
      return '<tspan x="' + num(x) + '" y="' + num(y + i * size * 1.2) + '">' + xml(line) + "</tspan>";
    }).join("");
  }

  function arrowHead(a, b, colour) {
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.sqrt(dx * dx + dy * dy) || 1;
    const ux = dx / len;
    const uy = dy / len;
    const size = 6;
    const bx = b.x - ux * size;
    const by = b.y - uy * size;
    const points = [[b.x, b.y], [bx - uy * size / 2, by + ux * size / 2], [bx + uy * size / 2, by - ux * size / 2]];
    return '<polygon points="' + points.map(function (q) { return num(q[0]) + "," + num(q[1]); }).join(" ") +
      '" fill="' + xml(colour) + '"/>';
  }

  function svg() {
    const bb = cy.elements().boundingBox({ includeLabels: true });
    const pad = 20;
    const x0 = bb.x1 - pad;
    const y0 = bb.y1 - pad;
    const w = bb.w + 2 * pad;
    const h = bb.h + 2 * pad;
    const out = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="' + [x0, y0, w, h].map(num).join(" ") +
        '" width="' + num(w) + '" height="' + num(h) + '" font-family="sans-serif">',
      "<title>" + xml(box.dataset.direction + " trace of " + (data.origin || []).join(", ") + " (" +
        box.dataset.model + ")") + "</title>",
      '<rect x="' + num(x0) + '" y="' + num(y0) + '" width="' + num(w) + '" height="' + num(h) +
        '" fill="#ffffff"/>',
    ];
    cy.edges().forEach(function (edge) {
      const a = edge.sourceEndpoint();
      const b = edge.targetEndpoint();
      const colour = edge.style("line-color");
      const dashed = edge.style("line-style") === "dashed" ? ' stroke-dasharray="6 3"' : "";
      const mid = edge.midpoint();
      out.push('<g class="edge" data-id="' + xml(edge.id()) + '" data-source="' + xml(edge.data("source")) +
        '" data-target="' + xml(edge.data("target")) + '">' +
        '<line x1="' + num(a.x) + '" y1="' + num(a.y) + '" x2="' + num(b.x) + '" y2="' + num(b.y) +
        '" stroke="' + xml(colour) + '" stroke-width="1.5"' + dashed + "/>" +
        arrowHead(a, b, colour) +
        '<text font-size="7" text-anchor="middle" fill="#333333">' +
        textLines(edge.data("label"), mid.x, mid.y - 2, 7) + "</text></g>");
    });
    cy.nodes().forEach(function (node) {
      const p = node.position();
      const r = node.width() / 2;
      const fill = node.style("background-color");
      const shape = node.style("shape") === "square"
        ? '<rect x="' + num(p.x - r) + '" y="' + num(p.y - r) + '" width="' + num(2 * r) + '" height="' +
          num(2 * r) + '" fill="' + xml(fill) + '"/>'
        : '<circle cx="' + num(p.x) + '" cy="' + num(p.y) + '" r="' + num(r) + '" fill="' + xml(fill) + '"/>';
      out.push('<g class="node" data-id="' + xml(node.id()) + '"><title>' + xml(node.id()) + "</title>" +
        shape + '<text font-size="9" text-anchor="middle" fill="#111111">' +
        textLines(node.data("label"), p.x, p.y + r + 10, 9) + "</text></g>");
    });
    out.push("</svg>");
    return out.join("\n") + "\n";
  }

  // "Save to case": the graph as it is now (with expanded nodes) becomes a snapshot of the
  // chosen case (POST /api/v1/cases/{id}/snapshots with the session's CSRF token).
  const caseSelect = document.querySelector("[data-case-select]");
  const saveButton = document.querySelector("[data-trace-save]");
  const saveStatus = document.querySelector("[data-trace-save-status]");
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }
  if (caseSelect && saveButton) {
    fetch("/api/v1/cases?include_closed=false&limit=200", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (list) {
        list.items.forEach(function (c) {
          const option = document.createElement("option");
          option.value = String(c.id);
          option.textContent = "#" + c.id + " " + c.title;
          option.selected = String(c.id) === caseSelect.dataset.case;
          caseSelect.appendChild(option);
        });
      })
      .catch(function () { saveStatus.textContent = "cannot list the cases"; });
    saveButton.addEventListener("click", function () {
      const caseId = caseSelect.value;
      if (!caseId) {
        saveStatus.textContent = "choose a case first";
        return;
      }
      const title = box.dataset.direction + " trace of " + (data.origin || []).join(", ") +
        " (" + box.dataset.model + ")";
      fetch("/api/v1/cases/" + caseId + "/snapshots", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ title: title.slice(0, 300), graph: data }),
      })
        .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
        .then(function (result) {
          if (!result[0]) {
            saveStatus.textContent = (result[1].error && result[1].error.message) || "not saved";
            return;
          }
          saveStatus.textContent = "";
          const link = document.createElement("a");
          link.href = "/cases/" + caseId + "?tab=graph";
          link.textContent = "saved to case #" + caseId;
          link.dataset.testid = "saved-to-case";
          saveStatus.appendChild(link);
        })
        .catch(function () { saveStatus.textContent = "not saved"; });
    });
  }
})();

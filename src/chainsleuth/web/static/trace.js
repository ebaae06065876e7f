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

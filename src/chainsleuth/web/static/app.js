// chainsleuth page behaviour that htmx does not cover. A static file: the CSP forbids inline
// scripts. htmx leaves the page as it was when a request fails; say so instead of staying mute.
(function () {
  "use strict";

  function flash(message) {
    const box = document.getElementById("flash");
    if (!box) {
      return;
    }
    box.querySelector("[data-flash-text]").textContent = message;
    box.setAttribute("role", "alert");
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function messageFrom(xhr) {
    // the error page carries the user-facing message; a JSON error carries it too
    try {
      const type = xhr.getResponseHeader("content-type") || "";
      if (type.includes("application/json")) {
        const body = JSON.parse(xhr.responseText);
        if (body && body.error && body.error.message) {
          return body.error.message;
        }
      } else {
        const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        const node = doc.querySelector("[data-testid=error-message]");
        if (node && node.textContent.trim()) {
          return node.textContent.trim();
        }
      }
    } catch (err) {
      // fall through to the generic message
    }
    return "The request failed (HTTP " + xhr.status + "). Reload the page and try again.";
  }

  document.addEventListener("htmx:responseError", function (event) {
    flash(messageFrom(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    flash("The server could not be reached. Check the connection and try again.");
  });
  document.addEventListener("htmx:beforeRequest", function () {
    const box = document.getElementById("flash");
    if (box) {
      box.hidden = true;
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-flash-close]")) {
      document.getElementById("flash").hidden = true;
    }
  });
})();

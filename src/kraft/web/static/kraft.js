// Draws every chart of the page from its Vega-Lite spec (the same spec the reports render to
// SVG), with the Vega runtime served by kraft itself; and sends the CSRF token with scripts' calls.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const holder of document.querySelectorAll("script.vega-spec")) {
    const figure = holder.parentElement;
    const spec = JSON.parse(holder.textContent);
    const target = document.createElement("div");
    figure.appendChild(target);
    if (window.vegaEmbed) {
      window.vegaEmbed(target, spec, { actions: false, renderer: "svg" }).catch((error) => {
        target.textContent = "The chart could not be drawn: " + error.message;
      });
    }
  }
  const token = document.querySelector('meta[name="csrf-token"]');
  window.kraftFetch = (url, options = {}) => {
    const headers = new Headers(options.headers || {});
    if (token) headers.set("X-CSRF-Token", token.content);
    return fetch(url, { ...options, headers, credentials: "same-origin" });
  };
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});

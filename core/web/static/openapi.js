// Starts Swagger UI on /schema. A file of its own: the page's CSP allows no inline script.
(function () {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // the default sends the document to an outside validator
  });
})();

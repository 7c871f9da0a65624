/* Starts Swagger UI on /api/docs. A static file because the CSP forbids inline scripts. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  var csrfToken = document.body.dataset.csrfToken;
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis];
  // "Try it out" from a logged-in browser uses the session, which needs the CSRF token on writes.
  config.requestInterceptor = function (req) {
    if (csrfToken && !req.headers.Authorization) {
      req.headers["X-CSRFToken"] = csrfToken;
    }
    return req;
  };
  SwaggerUIBundle(config);
})();

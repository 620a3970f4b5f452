// Starts ReDoc on /redoc. A file of its own, not an inline script: the page's CSP allows none. ReDoc
// generates its styles at run time; the page's CSP allows them by the nonce given here. Native
// scrollbars: the custom ones need styles that ReDoc inserts at load, before it has the nonce.
"use strict";
(function () {
  var root = document.getElementById("redoc");
  Redoc.init(
    root.dataset.openapiUrl,
    { nonce: root.dataset.styleNonce, nativeScrollbars: true, expandResponses: "200,201" },
    root
  );
})();

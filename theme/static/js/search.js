// Loaded only by the search page (theme/templates/search.html), after Pagefind's UI script.
window.addEventListener("DOMContentLoaded", function () {
  if (typeof PagefindUI === "undefined") {
    return; // the index was not built (pagefind not run): the browse list below still works
  }
  new PagefindUI({ element: "#search", showSubResults: true, resetStyles: false });
});

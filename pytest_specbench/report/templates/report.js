(function () {
  "use strict";
  // A link to a run opens it.
  function openTarget() {
    var el = document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();

  // Side by side: keep the two chosen columns; a row with a feature on one side only is unmatched.
  document.querySelectorAll(".sbs").forEach(function (box) {
    var form = box.querySelector(".pick");
    if (!form) { return; }
    var a = form.querySelector(".pick-a"), b = form.querySelector(".pick-b");
    if (b.options.length > 1) { b.selectedIndex = 1; }
    function show() {
      var keep = [a.value, b.value];
      box.querySelectorAll("[data-col]").forEach(function (cell) {
        cell.hidden = keep.indexOf(cell.dataset.col) < 0;
      });
      box.querySelectorAll("tbody tr").forEach(function (row) {
        var cells = Array.prototype.filter.call(row.querySelectorAll("td"), function (c) { return !c.hidden; });
        var has = cells.filter(function (c) { return c.classList.contains("has"); }).length;
        row.hidden = has === 0;
        row.classList.toggle("unmatched", has === 1 && cells.length === 2);
      });
    }
    a.addEventListener("change", show);
    b.addEventListener("change", show);
    form.hidden = false;
    show();
  });

  // Overview tables sort by any column (click or Enter on its header).
  function sortBy(table, index, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (x, y) {
      var p = x.cells[index], q = y.cells[index];
      var u = p.dataset.v || p.textContent, v = q.dataset.v || q.textContent;
      var m = parseFloat(u), n = parseFloat(v);
      return (isNaN(m) || isNaN(n) ? u.localeCompare(v) : m - n) * dir;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.overview").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, index) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, index, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, index, th); } });
    });
  });
})();

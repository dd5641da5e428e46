// The page's only script. It reads the JSON data block and writes prompt text only through
// textContent. It holds no data, so its hash (in the Content-Security-Policy) is fixed.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fm-data").textContent);
  var svg = document.getElementById("fm-map");
  var tip = document.getElementById("fm-tip");
  var pinned = null;

  function focus(group) {
    if (!svg) { return; }
    if (group === null || group === undefined) { svg.removeAttribute("data-focus"); }
    else { svg.setAttribute("data-focus", String(group)); }
  }

  function line(cls, text) {
    var el = document.createElement("div");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function showTip(i, x, y) {
    var m = data.map;
    if (!tip || !m || i < 0 || i >= m.text.length) { return; }
    var parts = [
      line("fm-tip-head", data.groups[m.group[i]]),
      line("fm-tip-status", "row " + m.index[i] + " \u00b7 " + data.statuses[m.status[i]]),
      line("fm-tip-text", m.text[i])
    ];
    Object.keys(data.columns || {}).forEach(function (key) {
      if (!m[key] || m[key][i] === undefined) { return; }
      var value = m[key][i];
      if (typeof value === "number") { value = value.toFixed(2); }
      parts.push(line("fm-tip-response", data.columns[key] + ": " + value));
    });
    tip.replaceChildren.apply(tip, parts);
    tip.hidden = false;
    tip.setAttribute("data-i", String(i));
    var box = svg.parentNode.getBoundingClientRect();
    var left = Math.min(Math.max(x - box.left + 14, 0), Math.max(box.width - 430, 0));
    tip.style.left = left + "px";
    tip.style.top = (y - box.top + 14) + "px";
  }

  function hideTip() { if (tip) { tip.hidden = true; } }

  if (svg && data.map) {
    svg.addEventListener("mousemove", function (ev) {
      var i = ev.target.getAttribute && ev.target.getAttribute("data-i");
      if (i === null || i === undefined) { hideTip(); return; }
      showTip(parseInt(i, 10), ev.clientX, ev.clientY);
    });
    svg.addEventListener("mouseleave", hideTip);
    if (data.map.z) { rotatable(); }
  }

  function rotatable() {
    var m = data.map, v = data.view, yaw = 0, pitch = 0, drag = null;
    var circles = svg.querySelectorAll("circle[data-i]");
    function draw() {
      var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
      var span = Math.min(v.width, v.height) / 2 - v.pad;
      for (var k = 0; k < circles.length; k++) {
        var i = parseInt(circles[k].getAttribute("data-i"), 10);
        var x = m.x[i] * cy + m.z[i] * sy, z = -m.x[i] * sy + m.z[i] * cy;
        var y = m.y[i] * cp - z * sp;
        circles[k].setAttribute("cx", (v.width / 2 + x * v.scale * span).toFixed(1));
        circles[k].setAttribute("cy", (v.height / 2 - y * v.scale * span).toFixed(1));
      }
    }
    svg.addEventListener("pointerdown", function (ev) {
      drag = [ev.clientX, ev.clientY, yaw, pitch];
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      yaw = drag[2] + (ev.clientX - drag[0]) * 0.01;
      pitch = drag[3] + (ev.clientY - drag[1]) * 0.01;
      draw();
    });
    svg.addEventListener("pointerup", function () { drag = null; });
  }

  document.querySelectorAll(".fm-legend button[data-group]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var g = btn.getAttribute("data-group");
      pinned = pinned === g ? null : g;
      document.querySelectorAll(".fm-legend button").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other.getAttribute("data-group") === pinned));
      });
      focus(pinned);
    });
  });

  function sortTable(table, key, dir) {
    var heads = table.tHead.rows[0].cells, col = -1;
    for (var k = 0; k < heads.length; k++) {
      if (heads[k].getAttribute("data-key") === key) { col = k; }
      heads[k].removeAttribute("aria-sort");
    }
    if (col < 0) { return; }
    var numeric = heads[col].getAttribute("data-sort") === "number";
    heads[col].setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.querySelectorAll("table.fm-sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (!th.getAttribute("data-sort")) { return; }
      th.tabIndex = 0;
      function go() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortTable(table, th.getAttribute("data-key"), dir);
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { go(); } });
    });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      tr.addEventListener("mouseenter", function () { focus(tr.getAttribute("data-group")); });
      tr.addEventListener("mouseleave", function () { focus(pinned); });
    });
  });

  // A link can open the page sorted or with a prompt shown: #sort=size&order=descending&point=3
  var hash = window.location.hash.slice(1);
  if (hash.indexOf("=") >= 0) {
    var params = new URLSearchParams(hash);
    var table = document.querySelector("table.fm-sortable");
    if (table && params.get("sort")) {
      sortTable(table, params.get("sort"), params.get("order") || "ascending");
    }
    if (svg && params.get("point") !== null) {
      var i = parseInt(params.get("point"), 10);
      var el = svg.querySelector("circle[data-i='" + i + "']");
      if (el) {
        var r = el.getBoundingClientRect();
        showTip(i, r.left, r.top);
      }
    }
  }
  // CSV of a group's mapped prompts (or of all of them), built here from the data block:
  // every cell quoted, and a cell a spreadsheet would read as a formula (=, +, -, @, tab,
  // carriage return first) starts with an apostrophe.
  function cell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) { text = "'" + text; }
    return '"' + text.replace(/"/g, '""') + '"';
  }

  function csv(group) {
    var m = data.map, keys = Object.keys(data.columns || {});
    var head = ["row", "group", "status", "prompt"].concat(keys.map(function (k) {
      return data.columns[k];
    }));
    var lines = [head.map(cell).join(",")];
    if (!m) { return lines.join("\r\n") + "\r\n"; }
    for (var i = 0; i < m.text.length; i++) {
      if (group !== "all" && String(m.group[i]) !== String(group)) { continue; }
      var row = [m.index[i], data.groups[m.group[i]], data.statuses[m.status[i]], m.text[i]];
      keys.forEach(function (k) { row.push(m[k] ? m[k][i] : ""); });
      lines.push(row.map(cell).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }

  document.querySelectorAll("button.fm-csv").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var group = btn.getAttribute("data-csv");
      var blob = new Blob(["\ufeff" + csv(group)], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "faultmap-" + (group === "all" ? "all" : "slice-" + (parseInt(group, 10) + 1)) + ".csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    });
  });

  document.documentElement.setAttribute("data-fm-ready", "1");
})();

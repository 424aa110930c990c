// Draws the run page's chart (uPlot) from the JSON beside it, on load and after each htmx refresh.
(function () {
  var SERIES = [
    { label: "sent", stroke: "#175cd3" },
    { label: "delivered", stroke: "#12b76a" },
    { label: "read", stroke: "#7a5af8" },
    { label: "failed", stroke: "#f04438" },
  ];

  function draw(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      var source = el.parentElement.querySelector("script.chart-data");
      if (!source || typeof uPlot === "undefined") return;
      var d = JSON.parse(source.textContent);
      var data = [d.t, d.sent, d.delivered, d.read, d.failed];
      var width = Math.max(280, el.clientWidth || el.parentElement.clientWidth);
      el.innerHTML = "";
      new uPlot({
        width: width,
        height: 260,
        series: [{}].concat(SERIES.map(function (s) { return { label: s.label, stroke: s.stroke, width: 2, points: { show: d.t.length < 40 } }; })),
        axes: [{}, { size: 60 }],
        scales: { x: { time: true } },
      }, data, el);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();

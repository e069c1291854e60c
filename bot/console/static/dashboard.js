// Draws every .chart on the dashboard from the ECharts option the server put in its data-option.
(function () {
  var charts = [];
  document.querySelectorAll(".chart[data-option]").forEach(function (el) {
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.dataset.option));
    el.dataset.drawn = "1";
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();

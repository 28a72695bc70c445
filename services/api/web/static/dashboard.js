// Tessera's dashboard: the one script of its own (htmx does the polling).
// A <pre data-log-stream="URL" data-offset="N"> follows a log live: server-sent events
// from byte N on, each event's text appended as text (never as HTML), until `end`.
(function () {
  "use strict";

  function follow(pre) {
    var url = pre.getAttribute("data-log-stream");
    var offset = pre.getAttribute("data-offset") || "0";
    var source = new EventSource(url + "?offset=" + encodeURIComponent(offset));
    pre.setAttribute("data-following", "true");
    source.onmessage = function (event) {
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.appendChild(document.createTextNode(event.data));
      if (event.lastEventId) {
        pre.setAttribute("data-offset", event.lastEventId);
      }
      if (atBottom) {
        pre.scrollTop = pre.scrollHeight;
      }
    };
    source.addEventListener("end", function () {
      source.close();
      pre.setAttribute("data-following", "ended");
      // The page's live part (htmx) refreshes at once instead of at its next poll.
      document.body.dispatchEvent(new CustomEvent("logended"));
    });
  }

  function start() {
    var logs = document.querySelectorAll("pre[data-log-stream]");
    for (var i = 0; i < logs.length; i++) {
      follow(logs[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

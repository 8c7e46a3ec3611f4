// Embeds the Switchboard visitor widget in any page (of an origin listed in
// SWITCHBOARD_ALLOWED_ORIGINS):
//
//   <script src="https://switchboard.example.com/widget/embed.js"
//           data-token="VISITOR_TOKEN" async></script>
//
// It inserts an <iframe> of /widget/ and hands it the token with postMessage,
// addressed to the widget's origin only, once the widget says it listens; the
// token never goes into a URL. Options (data- attributes of the script tag):
// data-token, data-container (a CSS selector; default: right after the script),
// data-title (the frame's accessible name), data-width, data-height.
// A token obtained later, or a fresh one: window.SwitchboardWidget.setToken(token).
(function () {
  "use strict";
  var script = document.currentScript;
  var widgetUrl = new URL("./", script.src);
  var options = script.dataset;
  var frame = document.createElement("iframe");
  var ready = false;
  var token = options.token || null;

  frame.src = widgetUrl.href;
  frame.title = options.title || "Chat with us";
  frame.className = "switchboard-widget";
  frame.style.width = options.width || "360px";
  frame.style.height = options.height || "560px";
  frame.style.border = "1px solid #ccc";
  frame.style.borderRadius = "8px";

  function send() {
    if (ready && token) frame.contentWindow.postMessage({ token: token }, widgetUrl.origin);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || event.origin !== widgetUrl.origin) return;
    if (data && data.type === "switchboard:ready") {
      ready = true;
      send();
    }
  });

  window.SwitchboardWidget = {
    frame: frame,
    setToken: function (value) {
      token = value;
      send();
    },
  };

  var container = options.container ? document.querySelector(options.container) : null;
  if (container) container.appendChild(frame);
  else if (script.parentNode && script.parentNode !== document.head) script.after(frame);
  else document.body.appendChild(frame);
})();

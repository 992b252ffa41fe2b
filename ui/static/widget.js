/* Sève — embeddable chat widget. One script tag on a partner page:
 *   <script src="https://HOTE/widget/widget.js" data-seve-api="https://HOTE" data-lang="fr" defer></script>
 * It talks to POST /api/chat/stream (server-sent events) and keeps the conversation in the page only
 * (the API is stateless: the widget sends the history). Shadow DOM keeps the host page's CSS out. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-seve-api]");
  var api = ((script && script.getAttribute("data-seve-api")) || new URL(script.src).origin).replace(/\/$/, "");
  var lang = (script && script.getAttribute("data-lang")) || (navigator.language || "fr").slice(0, 2);
  lang = lang === "en" ? "en" : "fr";
  var T = {
    fr: { open: "Une question ?", title: "Sève — alliances pour le bien commun", placeholder: "Posez votre question…",
          send: "Envoyer", sources: "Sources", close: "Fermer", error: "Le service ne répond pas. Réessayez plus tard.",
          thinking: "Recherche dans le corpus…" },
    en: { open: "Ask a question", title: "Sève — alliances for the common good", placeholder: "Ask your question…",
          send: "Send", sources: "Sources", close: "Close", error: "The service is not answering. Please try again later.",
          thinking: "Searching the corpus…" }
  }[lang];

  var host = document.createElement("div");
  host.id = "seve-widget";
  document.body.appendChild(host);
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}" +
    ".btn{position:fixed;right:20px;bottom:20px;background:#2f6b2f;color:#fff;border:0;border-radius:24px;padding:12px 18px;font-size:15px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.2);z-index:2147483000}" +
    ".panel{position:fixed;right:20px;bottom:76px;width:min(380px,calc(100vw - 40px));height:min(560px,calc(100vh - 110px));background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483000}" +
    ".panel.open{display:flex}.head{background:#2f6b2f;color:#fff;padding:10px 14px;display:flex;justify-content:space-between;align-items:center;font-size:14px}" +
    ".head button{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}.log{flex:1;overflow:auto;padding:12px;font-size:14px;color:#222}" +
    ".msg{margin:0 0 10px;padding:8px 10px;border-radius:10px;white-space:pre-wrap;line-height:1.4}.user{background:#e8f1e0;margin-left:40px}.bot{background:#f4f4f4;margin-right:20px}" +
    ".src{font-size:12px;margin-top:6px;color:#444}.src a{color:#2f6b2f}.src div{margin-top:3px}" +
    "form{display:flex;border-top:1px solid #ddd}input{flex:1;border:0;padding:12px;font-size:14px;outline:none}" +
    "form button{background:#2f6b2f;color:#fff;border:0;padding:0 14px;cursor:pointer}" +
    "</style>" +
    "<button class='btn' part='button'></button>" +
    "<div class='panel' role='dialog'><div class='head'><span class='title'></span><button class='close'>×</button></div>" +
    "<div class='log' aria-live='polite'></div><form><input name='q' autocomplete='off' maxlength='2000'><button type='submit'></button></form></div>";
  var $ = function (s) { return root.querySelector(s); };
  $(".btn").textContent = T.open;
  $(".title").textContent = T.title;
  $(".close").setAttribute("aria-label", T.close);
  $("input").placeholder = T.placeholder;
  $("form button").textContent = T.send;
  var history = [];

  $(".btn").addEventListener("click", function () { $(".panel").classList.toggle("open"); $("input").focus(); });
  $(".close").addEventListener("click", function () { $(".panel").classList.remove("open"); });

  function bubble(cls, text) {
    var el = document.createElement("div");
    el.className = "msg " + cls;
    el.textContent = text;
    $(".log").appendChild(el);
    $(".log").scrollTop = $(".log").scrollHeight;
    return el;
  }

  function renderSources(el, citations) {
    if (!citations || !citations.length) return;
    var box = document.createElement("div");
    box.className = "src";
    box.appendChild(document.createTextNode(T.sources + " :"));
    citations.forEach(function (c) {
      var line = document.createElement("div");
      var label = "[" + c.n + "] " + (c.title || c.source);
      if (c.url) {
        var a = document.createElement("a");
        a.href = c.url; a.target = "_blank"; a.rel = "noopener"; a.textContent = label;
        line.appendChild(a);
      } else { line.textContent = label; }
      line.title = c.snippet || "";
      box.appendChild(line);
    });
    el.appendChild(box);
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var ev = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) ev = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      if (data) onEvent(ev, JSON.parse(data));
    });
    return rest;
  }

  $("form").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = $("input").value.trim();
    if (!q) return;
    $("input").value = "";
    bubble("user", q);
    var out = bubble("bot", T.thinking);
    var text = "", started = false;
    fetch(api + "/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": lang },
      body: JSON.stringify({ message: q, history: history.slice(-20), lang: lang })
    }).then(function (res) {
      if (!res.ok || !res.body) {
        return res.json().then(function (b) { throw new Error(b.message || T.error); });
      }
      var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buffer = parseEvents(buffer + decoder.decode(r.value, { stream: true }), function (ev, data) {
            if (ev === "token") { if (!started) { out.textContent = ""; started = true; } text += data.text; out.textContent = text; }
            else if (ev === "replace") { started = true; text = data.text; out.textContent = text; }
            else if (ev === "done") {
              out.textContent = data.answer;
              renderSources(out, data.citations);
              history.push({ role: "user", content: q }, { role: "assistant", content: data.answer });
            } else if (ev === "error") { out.textContent = "⚠️ " + data.message; }
            $(".log").scrollTop = $(".log").scrollHeight;
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (err) { out.textContent = "⚠️ " + (err && err.message ? err.message : T.error); });
  });
})();

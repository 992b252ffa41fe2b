/* Sève — embeddable chat widget. One script tag on a partner page (defer or async both work):
 *   <script src="https://HOST/widget/widget.js" data-seve-key="pk_…" defer></script>
 * data- attributes: seve-api (the Sève server, default: where this script comes from), seve-key (the partner's
 * publishable key, sent as X-Seve-Key), lang (fr | en; default: the page's lang, then the browser's), title, color (buttons and header), position (right | left).
 * It streams answers from POST /api/chat/stream (server-sent events) and keeps the conversation in the page
 * only (the API is stateless). Everything lives in a shadow root: the host page's CSS does not reach it and
 * its CSS does not leak out; every text from the server is inserted as text, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector("script[data-seve-key],script[data-seve-api],script[src*='widget.js']");
  var attr = function (name) { var v = script && script.getAttribute("data-" + name); return v ? v.trim() : ""; };
  var api = (attr("seve-api") || (script && script.src ? new URL(script.src, location.href).origin : "")).replace(/\/+$/, "");
  var key = attr("seve-key");
  var lang = (attr("lang") || document.documentElement.lang || navigator.language || "fr").slice(0, 2).toLowerCase() === "en" ? "en" : "fr";
  var okColor = function (c) { return c && window.CSS && CSS.supports && CSS.supports("color", c); };
  var color = okColor(attr("color")) ? attr("color") : "#2f6b2f";
  var T = {
    fr: { open: "Une question ?", title: "Sève — alliances pour le bien commun", label: "Votre question",
      placeholder: "Posez votre question…", send: "Envoyer", sources: "Sources", close: "Fermer le chat",
      thinking: "Recherche dans le corpus…", empty: "Écrivez d'abord votre question.", source: "Source",
      original: "site d'origine", again: "(autre passage)", illustrative: "exemple illustratif", partners: "Partenaires",
      down: "Le service ne répond pas. Réessayez dans un moment.",
      r401: "Ce site n'a pas (ou plus) de clé Sève valide : l'assistant est indisponible ici pour le moment.",
      r403: "L'assistant Sève n'est pas autorisé sur ce site. Prévenez son équipe si le problème persiste.",
      r429: "Beaucoup de questions en peu de temps : merci de patienter {s} avant la suivante.", sec: " s",
      later: "un moment" },
    en: { open: "Ask a question", title: "Sève — alliances for the common good", label: "Your question",
      placeholder: "Ask your question…", send: "Send", sources: "Sources", close: "Close the chat",
      thinking: "Searching the corpus…", empty: "Please type your question first.", source: "Source",
      original: "original site", again: "(another passage)", illustrative: "illustrative example", partners: "Partners",
      down: "The service is not answering. Please try again in a moment.",
      r401: "This site has no valid Sève key (any more): the assistant is unavailable here for now.",
      r403: "The Sève assistant is not allowed on this site. Please tell its team if this goes on.",
      r429: "Many questions in a short time: please wait {s} before the next one.", sec: " s",
      later: "a moment" }
  }[lang];
  T.title = attr("title") || T.title;

  function start() {
    if (document.getElementById("seve-widget")) return; // the script was included twice
    var host = document.createElement("seve-widget");
    host.id = "seve-widget";
    // inline !important beats any rule of the host page, and `all:initial` stops inherited styles
    host.setAttribute("style", "all:initial !important;display:block !important;position:static !important");
    (document.body || document.documentElement).appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    var side = attr("position") === "left" ? "left" : "right";
    root.innerHTML = "<style>" +
      ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;" +
      "letter-spacing:normal;text-transform:none}" +
      ".btn{position:fixed;" + side + ":16px;bottom:16px;max-width:calc(100vw - 32px);background:var(--c);color:#fff;" +
      "border:0;border-radius:24px;padding:12px 18px;font-size:15px;line-height:1.2;cursor:pointer;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
      ".btn:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
      "input:focus-visible{outline:3px solid #ffbf47;outline-offset:-3px}" +
      ".panel{position:fixed;" + side + ":16px;bottom:76px;width:380px;max-width:calc(100vw - 32px);" +
      "height:560px;max-height:calc(100vh - 100px);background:#fff;color:#1f1f1f;border-radius:12px;" +
      "box-shadow:0 8px 30px rgba(0,0,0,.3);display:none;flex-direction:column;overflow:hidden;z-index:2147483001;" +
      "font-size:14px;line-height:1.45;text-align:left}" +
      ".panel.open{display:flex}.head{background:var(--c);color:#fff;padding:10px 8px 10px 14px;display:flex;" +
      "justify-content:space-between;align-items:center;gap:8px}h2{font-size:15px;margin:0;font-weight:600}" +
      ".close{background:none;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;min-width:44px;min-height:44px}" +
      ".log{flex:1;overflow:auto;padding:12px;overscroll-behavior:contain}" +
      ".msg{margin:0 0 10px;padding:8px 10px;border-radius:10px;overflow-wrap:anywhere}" +
      ".user{background:#e6efdd;margin-left:40px;white-space:pre-wrap}.bot{background:#f3f3f3;margin-right:16px}" +
      ".txt{white-space:pre-wrap}.bot a{color:#1d4f1d}.cite{font-weight:600;text-decoration:none;padding:0 1px}" +
      ".cite:hover{text-decoration:underline}.src{font-size:13px;margin:8px 0 0;padding:0 0 0 20px;color:#333}" +
      ".src li{margin-top:3px}.card{background:#fff;border:1px solid #d5dccf;border-radius:8px;padding:8px;margin-top:8px}" +
      ".card h3{font-size:14px;margin:0 0 4px}.meta{font-size:12px;color:#4a4a4a}.tag{display:inline-block;" +
      "background:#fff3cd;color:#4d3900;border-radius:4px;padding:0 4px;font-size:11px;margin-left:4px}" +
      ".warn{background:#fff4e5;color:#5c3200}" +
      "form{display:flex;border-top:1px solid #ccc;background:#fff}" +
      "input{flex:1;min-width:0;border:0;padding:12px;font-size:16px;color:#1f1f1f;background:#fff}" +
      "form button{background:var(--c);color:#fff;border:0;padding:0 16px;font-size:14px;cursor:pointer;min-height:44px}" +
      "form button:disabled{opacity:.6;cursor:wait}.hint{margin:0;padding:4px 12px;font-size:13px;color:#8a1c1c;min-height:0}" +
      ".hint:empty{display:none}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
      "@media (max-width:480px){.panel{left:0;right:0;top:0;bottom:0;width:100%;max-width:none;height:100%;" +
      "max-height:none;border-radius:0}.btn{" + side + ":12px;bottom:12px}.user{margin-left:16px}.bot{margin-right:0}}" +
      "</style>" +
      "<button class='btn' type='button' aria-haspopup='dialog' aria-expanded='false' aria-controls='p'></button>" +
      "<div class='panel' id='p' role='dialog' aria-modal='true' aria-labelledby='t'>" +
      "<div class='head'><h2 id='t'></h2><button class='close' type='button'>×</button></div>" +
      "<div class='log' role='log' aria-live='polite' aria-relevant='additions text'></div>" +
      "<p class='hint' id='h' role='status'></p>" +
      "<form novalidate><label class='sr' for='q'></label><input id='q' name='q' autocomplete='off' maxlength='2000' " +
      "aria-describedby='h'><button type='submit'></button></form></div>";
    var $ = function (s) { return root.querySelector(s); };
    var btn = $(".btn"), panel = $(".panel"), log = $(".log"), input = $("input"), send = $("form button");
    var hint = $(".hint");
    root.host.style.setProperty("--c", color);
    panel.style.setProperty("--c", color);
    btn.style.setProperty("--c", color);
    btn.textContent = T.open;
    $("h2").textContent = T.title;
    $(".close").setAttribute("aria-label", T.close);
    $("label").textContent = T.label;
    input.placeholder = T.placeholder;
    send.textContent = T.send;
    var history = [], busy = false;

    function open() {
      panel.classList.add("open"); btn.setAttribute("aria-expanded", "true"); btn.style.display = "none";
      input.focus();
    }
    function close() {
      panel.classList.remove("open"); btn.setAttribute("aria-expanded", "false"); btn.style.display = "";
      btn.focus();
    }
    btn.addEventListener("click", open);
    $(".close").addEventListener("click", close);
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); close(); return; }
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(panel.querySelectorAll("a[href],button:not([disabled]),input"),
        function (node) { return node.getClientRects().length > 0; });
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = root.activeElement;
      if (e.shiftKey && (active === first || !panel.contains(active))) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || !panel.contains(active))) { e.preventDefault(); first.focus(); }
    });

    function el(tag, cls, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text != null) node.textContent = text;
      return node;
    }
    function scroll() { log.scrollTop = log.scrollHeight; }
    function link(href, text, label) {
      var a = el("a", null, text);
      if (/^https?:\/\//i.test(href || "")) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
      if (label) a.setAttribute("aria-label", label);
      return a;
    }
    // the answer as text, each [n] a link to the source view of citation n
    function renderText(box, text, cites) {
      box.textContent = "";
      var byN = {};
      (cites || []).forEach(function (c) { byN[c.n] = c; });
      String(text).split(/(\[\d+\])/).forEach(function (part) {
        var m = /^\[(\d+)\]$/.exec(part), c = m && byN[m[1]];
        if (c && c.link) box.appendChild(link(c.link, part, T.source + " " + c.n + " : " + (c.title || c.source))).className = "cite";
        else if (part) box.appendChild(document.createTextNode(part));
      });
    }
    function cards(out, data) {
      var intro = data.answer.split("\n")[0];
      renderText(out.txt, intro, []);
      data.citations.forEach(function (c) {
        var m = c.metadata || {}, card = el("div", "card"), h = el("h3");
        h.appendChild(link(c.link, "[" + c.n + "] " + (c.title || c.source)));
        if (m.illustratif) h.appendChild(el("span", "tag", T.illustrative));
        card.appendChild(h);
        var facts = [m.region, m.territoire, m.domaine, m.annee].filter(Boolean).join(" · ");
        if (facts) card.appendChild(el("div", "meta", facts));
        if (m.resume) card.appendChild(el("div", null, m.resume));
        if (m.partenaires && m.partenaires.length) {
          card.appendChild(el("div", "meta", T.partners + " : " + [].concat(m.partenaires).join(", ")));
        }
        out.box.appendChild(card);
      });
    }
    function sources(out, cites) {
      if (!cites || !cites.length) return;
      var list = el("ol", "src");
      list.setAttribute("aria-label", T.sources);
      var seen = {};
      cites.forEach(function (c) {
        var li = el("li"), name = c.title || c.source;
        li.value = c.n;
        li.appendChild(link(c.link, seen[name] ? name + " " + T.again : name));
        seen[name] = true;
        if (c.url) { li.appendChild(document.createTextNode(" — ")); li.appendChild(link(c.url, T.original)); }
        list.appendChild(li);
      });
      out.box.appendChild(list);
    }
    function finish(out, data) {
      var examples = data.citations.length && /\n- /.test(data.answer) &&
        data.citations.every(function (c) { return c.doc_type === "exemple"; });
      if (examples) cards(out, data);
      else { renderText(out.txt, data.answer, data.citations); sources(out, data.citations); }
    }
    function fail(out, message) {
      out.box.classList.add("warn");
      out.txt.textContent = message;
    }
    function refusal(res, body) {
      if (res.status === 401) return T.r401;
      if (res.status === 403) return T.r403;
      if (res.status === 429) {
        var s = parseInt(res.headers.get("Retry-After"), 10);
        return T.r429.replace("{s}", s > 0 && s <= 120 ? s + T.sec : T.later);
      }
      return (body && body.message) || T.down;
    }
    function parse(buffer, onEvent) {
      var parts = buffer.split("\n\n"), rest = parts.pop();
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
      var q = input.value.trim();
      if (!q) { hint.textContent = T.empty; input.setAttribute("aria-invalid", "true"); input.focus(); return; }
      if (busy) return;
      hint.textContent = ""; input.removeAttribute("aria-invalid");
      input.value = "";
      log.appendChild(el("div", "msg user", q));
      var out = { box: el("div", "msg bot") };
      out.txt = out.box.appendChild(el("div", "txt", T.thinking));
      log.appendChild(out.box);
      log.setAttribute("aria-busy", "true");
      busy = true; send.disabled = true;
      scroll();
      var text = "", cites = [], headers = { "Content-Type": "application/json", "Accept-Language": lang };
      if (key) headers["X-Seve-Key"] = key;
      function end() { busy = false; send.disabled = false; log.setAttribute("aria-busy", "false"); }
      fetch(api + "/api/chat/stream", {
        method: "POST", headers: headers, credentials: "omit",
        body: JSON.stringify({ message: q, history: history.slice(-20), lang: lang })
      }).then(function (res) {
        if (!res.ok || !res.body) {
          return res.json().catch(function () { return null; }).then(function (b) { fail(out, refusal(res, b)); });
        }
        var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return;
            buffer = parse(buffer + decoder.decode(r.value, { stream: true }), function (ev, data) {
              if (ev === "citations") cites = data;
              else if (ev === "token") { text += data.text; renderText(out.txt, text, cites); }
              else if (ev === "replace") { text = data.text; cites = data.citations || cites; renderText(out.txt, text, cites); }
              else if (ev === "done") {
                finish(out, data);
                log.scrollTop += out.box.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
                history.push({ role: "user", content: q }, { role: "assistant", content: data.answer });
              } else if (ev === "error") fail(out, data.message || T.down);
              scroll();
            });
            return pump();
          });
        }
        return pump();
      }).catch(function () { fail(out, T.down); }).then(end);
    });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();

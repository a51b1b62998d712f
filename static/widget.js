// kefu widget loader (<script src="…/widget.js" data-inbox="TOKEN" async>): the launcher, the
// chat iframe on kefu's origin, the page API window.kefu(command, ...args). It sets no cookie
// and builds no HTML from data.
(function () {
  "use strict";

  if (window.kefu && window.kefu.loaded) return; // pasted twice

  const script =
    document.currentScript || document.querySelector('script[data-inbox][src*="widget.js"]');
  const inbox = script && script.getAttribute("data-inbox");
  if (!inbox) {
    console.warn("kefu: data-inbox is missing on the <script>");
    return;
  }
  const origin = new URL(script.src, location.href).origin;
  const side = script.getAttribute("data-position") === "left" ? "left" : "right";
  // Only a hex colour reaches the stylesheet, so the attribute cannot inject CSS.
  let color = script.getAttribute("data-color") || "";
  if (!/^#([\da-f]{3,4}|[\da-f]{6}|[\da-f]{8})$/i.test(color)) color = "#2563eb";
  const SVG = "http://www.w3.org/2000/svg";

  let iframe = null;
  let isOpen = false;
  let readyCount = 0;
  let unread = 0;
  let user = null; // the last setUser arguments, sent again if the iframe reloads
  const pending = [];

  const css =
    ".launcher{position:fixed;bottom:20px;" + side + ":20px;width:56px;height:56px;margin:0;" +
    "padding:0;border:0;border-radius:50%;background:" + color + ";color:#fff;cursor:pointer;" +
    "display:flex;align-items:center;justify-content:center;z-index:2147483647;" +
    "box-shadow:0 4px 12px rgba(0,0,0,.25)}" +
    ".launcher svg{width:28px;height:28px}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:8px;height:20px;padding:0 6px;" +
    "border-radius:10px;background:#dc2626;color:#fff;" +
    "font:600 12px/20px system-ui,sans-serif;text-align:center}" +
    ".panel{position:fixed;bottom:88px;" + side + ":20px;width:380px;height:600px;" +
    "max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border:0;border-radius:12px;" +
    "background:#fff;z-index:2147483647;box-shadow:0 8px 32px rgba(0,0,0,.25)}" +
    "[hidden]{display:none!important}" +
    // Full screen on phones, covering the launcher: the chat page offers its own close.
    "@media (max-width:480px){.panel{top:0;left:0;width:100%;height:100%;max-width:none;" +
    "max-height:none;border-radius:0}.launcher.open{display:none}}";

  function svgIcon(draw) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    Object.keys(draw).forEach((name) => path.setAttribute(name, draw[name]));
    svg.appendChild(path);
    return svg;
  }

  const chatIcon = svgIcon({
    d: "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
    fill: "currentColor",
  });
  const closeIcon = svgIcon({
    d: "M6 6l12 12M18 6l-12 12",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "2.5",
    "stroke-linecap": "round",
  });

  const badge = document.createElement("span");
  badge.className = "badge";
  badge.setAttribute("aria-hidden", "true");

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.append(chatIcon, closeIcon, badge);
  launcher.addEventListener("click", () => (isOpen ? close() : open()));

  // Page rules for div or span do not match a custom element, and no page rule reaches
  // into a shadow root. It is open so that accessibility and test tools can see the button.
  const host = document.createElement("kefu-widget");
  host.style.cssText = "all:initial";
  const shadow = host.attachShadow({ mode: "open" });
  // A constructed stylesheet is CSSOM, which a shop's strict Content-Security-Policy
  // (no 'unsafe-inline' styles) still allows; a <style> element only where that is missing.
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet.prototype.replaceSync === "function") {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = css;
    shadow.append(style);
  }
  shadow.append(launcher);

  function renderLauncher() {
    const showBadge = !isOpen && unread > 0;
    chatIcon.toggleAttribute("hidden", isOpen); // SVG elements have no .hidden
    closeIcon.toggleAttribute("hidden", !isOpen);
    badge.hidden = !showBadge;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    launcher.classList.toggle("open", isOpen);
    launcher.setAttribute("aria-expanded", String(isOpen));
    const label = isOpen ? "Close chat" : "Open chat";
    launcher.setAttribute("aria-label", showBadge ? label + ", " + unread + " unread" : label);
  }

  function createIframe() {
    iframe = document.createElement("iframe");
    iframe.className = "panel";
    iframe.title = "Chat";
    iframe.src = origin + "/widget/" + encodeURIComponent(inbox) + "/chat";
    iframe.hidden = true;
    shadow.appendChild(iframe);
  }

  // Events and page timers may start a proactive message, which needs the chat loaded
  // (hidden) to reach kefu; plain page views never load it.
  function ensureIframe() {
    if (!iframe) createIframe();
  }

  function post(command, args) {
    iframe.contentWindow.postMessage({ kefu: 1, command: command, args: args }, origin);
  }

  // Commands wait for the iframe's "ready", so setUser/track/reset wait for the first open:
  // loading the chat just for them would cost every page view. Returns the JSON snapshot sent.
  function send(command, args) {
    let copy;
    try {
      copy = JSON.parse(JSON.stringify(args));
    } catch (error) {
      console.warn("kefu: " + command + ": arguments must be JSON", error);
      return null;
    }
    if (readyCount > 0) {
      post(command, copy);
    } else {
      if (pending.length >= 100) pending.shift();
      pending.push([command, copy]);
    }
    return copy;
  }

  function onReady() {
    // A later "ready" is a reload: the chat forgot the visitor and whether it shows.
    if (readyCount++ > 0) {
      if (user) post("setUser", user);
      post(isOpen ? "open" : "close", []);
    }
    pending.splice(0).forEach((message) => post(message[0], message[1]));
  }

  function open() {
    if (isOpen) return;
    if (!iframe) createIframe();
    isOpen = true;
    unread = 0;
    iframe.hidden = false;
    renderLauncher();
    send("open", []);
  }

  // Focus was inside the chat, which disappears, when the chat asked to close.
  function close(fromChat) {
    if (!isOpen) return;
    isOpen = false;
    iframe.hidden = true;
    renderLauncher();
    if (fromChat === true) launcher.focus();
    send("close", []);
  }

  function setUnread(count) {
    unread = Math.max(0, Math.floor(count));
    if (isOpen) unread = 0;
    renderLauncher();
  }

  window.addEventListener("message", (event) => {
    if (!iframe || event.origin !== origin || event.source !== iframe.contentWindow) return;
    const data = event.data;
    if (!data || data.kefu !== 1) return;
    if (data.ready === true) onReady();
    if (typeof data.unread === "number" && isFinite(data.unread)) setUnread(data.unread);
    if (data.close === true) close(true);
    if (data.open === true) open();
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen) close();
  });

  const commands = {
    open: open,
    close: () => close(),
    setUser: (profile) => {
      user = send("setUser", [profile]);
    },
    track: (name, properties) => {
      ensureIframe();
      send("track", [name, properties || {}]);
    },
    reset: () => {
      user = null;
      send("reset", []);
    },
  };

  function kefu(command, ...args) {
    if (!commands.hasOwnProperty(command)) {
      console.warn("kefu: unknown command", command);
      return;
    }
    commands[command](...args);
  }
  kefu.loaded = true;

  // Calls queued by the snippet's stub before this loaded:
  // window.kefu = window.kefu || function () { (kefu.q = kefu.q || []).push(arguments) };
  const queued = window.kefu && window.kefu.q;
  window.kefu = kefu;

  renderLauncher();
  const mount = () => document.body.appendChild(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  // `*` in a pattern matches anything; the rest matches itself.
  function wildcard(pattern, text) {
    const escaped = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp("^" + escaped.join(".*") + "$").test(text);
  }

  // Admin rules that greet customers who stay on certain pages: time them here, once per
  // page, and let kefu decide (conditions and caps are checked there).
  fetch(origin + "/widget/" + encodeURIComponent(inbox) + "/page-timers", { credentials: "omit" })
    .then((response) => (response.ok ? response.json() : []))
    .then((timers) => {
      if (!Array.isArray(timers)) return;
      timers.forEach((timer) => {
        if (typeof timer.pattern !== "string" || !wildcard(timer.pattern, location.href)) return;
        const seconds = Math.max(0, Math.min(3600, Number(timer.seconds) || 0));
        setTimeout(() => {
          ensureIframe();
          send("pageTime", [location.href, seconds]);
        }, seconds * 1000);
      });
    })
    .catch(() => {});

  if (queued && typeof queued.length === "number") {
    Array.from(queued).forEach((call) => kefu(...Array.from(call)));
  }
})();

// The chat page inside the widget's iframe: relays the shop page's API calls (setUser,
// track, reset) to kefu, keeps the live stream resumable and the transcript scrolled,
// and tells the loader about new replies (for its unread badge).
(function () {
  'use strict';

  var inbox = document.querySelector('meta[name="kefu-inbox"]').content;
  var headers = JSON.parse(document.body.getAttribute('hx-headers') || '{}');
  var messages = document.getElementById('messages');
  var stream = document.querySelector('[sse-connect]');

  function post(path, body) {
    return fetch('/widget/' + encodeURIComponent(inbox) + '/' + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        'X-CSRF-Token': headers['X-CSRF-Token'] || ''
      },
      body: JSON.stringify(body || {})
    });
  }

  function toParent(message) {
    if (window.parent !== window) {
      message.kefu = 1;
      // Nothing secret is sent: the loader only learns that the chat is ready or has news.
      window.parent.postMessage(message, '*');
    }
  }

  function scrollDown() {
    messages.parentElement.scrollTop = messages.parentElement.scrollHeight;
  }

  // The loader says when the chat is shown; replies while hidden count as unread.
  var visible = true;
  var unread = 0;
  var allowedParents = (document.querySelector('meta[name="kefu-origins"]').content || '')
    .split(' ').filter(Boolean);

  var commands = {
    open: function () {
      visible = true;
      unread = 0;
      toParent({ unread: 0 });
      document.getElementById('composer-body').focus();
    },
    close: function () { visible = false; },
    setUser: function (user) {
      return post('identify', user || {}).then(function (response) {
        if (!response.ok) return;
        return response.json().then(function (outcome) {
          // Another person's history now belongs on screen.
          if (outcome.customer_changed) window.location.reload();
        });
      });
    },
    track: function (name, properties) {
      return post('track', { name: name, properties: properties || {} }).then(openIfProactive);
    },
    pageTime: function (url, seconds) {
      return post('page-time', { url: String(url), seconds: Math.floor(seconds) || 0 }).then(openIfProactive);
    },
    reset: function () {
      return post('reset').then(function () { window.location.reload(); });
    }
  };

  // A proactive message went out: the loader opens the bubble to show it.
  function openIfProactive(response) {
    if (!response.ok) return;
    return response.json().then(function (outcome) {
      if (outcome && outcome.proactive) toParent({ open: true });
    });
  }

  // Card links and images may be relative to the shop's site, not to kefu's: resolve them
  // against the page that embeds the chat (when it is an allowed one).
  var shopOrigin = (function () {
    try {
      var referrer = new URL(document.referrer).origin;
      if (allowedParents.indexOf(referrer) >= 0) return referrer;
    } catch (error) { /* no referrer */ }
    return allowedParents[1] || allowedParents[0] || window.location.origin;
  })();
  function resolveCards(root) {
    Array.prototype.forEach.call(root.querySelectorAll('.card a[data-href]'), function (link) {
      link.href = new URL(link.getAttribute('data-href'), shopOrigin).href;
      link.removeAttribute('data-href');
    });
    Array.prototype.forEach.call(root.querySelectorAll('.card img[data-src]'), function (image) {
      image.src = new URL(image.getAttribute('data-src'), shopOrigin).href;
      image.removeAttribute('data-src');
    });
  }
  resolveCards(document);
  document.body.addEventListener('htmx:sseMessage', function () { resolveCards(document); });

  window.addEventListener('message', function (event) {
    // Only the shop pages allowed to embed this inbox speak for the customer.
    if (event.source !== window.parent || allowedParents.indexOf(event.origin) < 0) return;
    var data = event.data;
    if (!data || data.kefu !== 1 || !commands.hasOwnProperty(data.command)) return;
    commands[data.command].apply(null, data.args || []);
  });

  // A reconnect after the stream closed reads sse-connect again: resume after the last id.
  // lastEventId is the stream's latest id, also on events that carry none (status): only
  // message events are about that id.
  function messageId(event) {
    var detail = event.detail;
    return detail && detail.type === 'message' ? detail.lastEventId : null;
  }
  document.body.addEventListener('htmx:sseBeforeMessage', function (event) {
    var id = messageId(event);
    if (id && document.getElementById('m-' + id)) event.preventDefault();
  });
  // "Typing…" shows until the reply arrives, or fades if it never comes.
  var typingSlot = document.getElementById('typing');
  var typingTimer = null;
  function clearTyping() {
    typingSlot.innerHTML = '';
    clearTimeout(typingTimer);
  }
  document.body.addEventListener('htmx:sseMessage', function (event) {
    if (event.detail && event.detail.type === 'typing') {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(clearTyping, 8000);
    }
  });
  document.body.addEventListener('htmx:sseMessage', function (event) {
    var id = messageId(event);
    if (id && stream) {
      stream.setAttribute('sse-connect', stream.getAttribute('sse-connect').replace(/after=\d*/, 'after=' + id));
      var added = document.getElementById('m-' + id);
      if (added && !added.classList.contains('msg-customer')) clearTyping();
      if (added && !visible && !added.classList.contains('msg-customer')) {
        unread += 1;
        toParent({ unread: unread });
      }
    }
    scrollDown();
  });

  // The composer empties as soon as a message goes out, so the customer can type the next
  // one at once; a message that fails comes back into an empty box.
  var sentText = null;
  document.body.addEventListener('htmx:beforeRequest', function (event) {
    var form = event.detail.elt;
    if (form && form.classList && form.classList.contains('composer')) {
      sentText = composer.value;
      composer.value = '';
    }
  });
  document.body.addEventListener('htmx:afterRequest', function (event) {
    var error = document.getElementById('chat-error');
    var form = event.detail.elt;
    if (event.detail.successful) {
      error.textContent = '';
      return;
    }
    if (form && form.classList && form.classList.contains('composer') && sentText && !composer.value) {
      composer.value = sentText;
    }
    if (event.detail.xhr) {
      error.textContent = event.detail.xhr.responseText || 'Something went wrong. Try again.';
    }
  });

  // 📎: the chosen files go up as one message; it arrives on the event stream like any other.
  var attach = document.getElementById('attach-file');
  if (attach) {
    attach.addEventListener('change', function () {
      if (!attach.files.length) return;
      var data = new FormData();
      Array.prototype.forEach.call(attach.files, function (file) { data.append('file', file, file.name); });
      var error = document.getElementById('chat-error');
      error.textContent = '';
      fetch(attach.getAttribute('data-upload'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-CSRF-Token': headers['X-CSRF-Token'] || '', 'HX-Request': 'true' },
        body: data
      }).then(function (response) {
        if (!response.ok) return response.text().then(function (text) { error.textContent = text || 'Not sent.'; });
      }).catch(function () { error.textContent = 'Not sent. Check your connection.'; });
      attach.value = '';
    });
  }

  var composer = document.getElementById('composer-body');
  // The agent sees "typing…": at most one signal every few seconds, nothing of the text.
  var lastTypingSignal = 0;
  composer.addEventListener('input', function () {
    var now = Date.now();
    if (composer.value.trim() && now - lastTypingSignal > 3000) {
      lastTypingSignal = now;
      post('typing');
    }
  });
  composer.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (composer.value.trim()) composer.form.requestSubmit();
    }
  });

  function closeChat() { toParent({ close: true }); }
  var closeButton = document.getElementById('chat-close');
  if (closeButton) closeButton.addEventListener('click', closeChat);
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') closeChat();
  });

  document.documentElement.style.setProperty('--accent', document.body.dataset.color || '#2563eb');
  scrollDown();
  toParent({ ready: true });
})();

// The agent desk in the browser: the reply box (Enter sends, reply/note modes, "/" canned
// responses, typing signal), suggested replies, keyboard shortcuts, the waiting badge in the
// tab title, and keeping the transcript scrolled. Everything else is htmx + SSE.
(function () {
  'use strict';

  var desk = document.getElementById('desk');
  if (!desk) return;
  var baseTitle = document.title;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || '';
    } catch (error) {
      return '';
    }
  }

  // ---- the waiting badge: "(3) Desk" while customers wait, a soft chime when one arrives ----
  var lastWaiting = Number(desk.getAttribute('data-waiting')) || 0;
  function updateBadge() {
    var rows = document.querySelector('.desk-rows');
    var counter = document.querySelector('[data-count="waiting"]');
    var waiting = counter ? Number(counter.textContent) || 0 : lastWaiting;
    document.title = (waiting > 0 ? '(' + waiting + ') ' : '') + baseTitle;
    if (waiting > lastWaiting) announce();
    lastWaiting = waiting;
    return rows;
  }
  function announce() {
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.05, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.4);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.4);
    } catch (error) { /* no sound before the first click: browsers allow that */ }
  }
  updateBadge();
  document.body.addEventListener('htmx:afterSwap', function (event) {
    if (event.target && event.target.id === 'desk-list') {
      updateBadge();
      highlight(selected);
    }
  });

  // ---- presence: the select saves itself ----
  var presence = document.querySelector('[data-autosubmit]');
  if (presence) presence.addEventListener('change', function () { presence.form.submit(); });

  // ---- transcript ----
  var scroller = document.getElementById('transcript-scroll');
  function scrollDown() { if (scroller) scroller.scrollTop = scroller.scrollHeight; }
  scrollDown();
  var typingSlot = document.getElementById('customer-typing');
  var typingTimer = null;
  document.body.addEventListener('htmx:sseBeforeMessage', function (event) {
    var detail = event.detail || {};
    // A resumed stream may repeat what the page already shows.
    if (detail.type === 'message' && detail.lastEventId && document.getElementById('m-' + detail.lastEventId)) {
      event.preventDefault();
    }
  });
  document.body.addEventListener('htmx:sseMessage', function (event) {
    var detail = event.detail || {};
    if (detail.type === 'typing') {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typingSlot.innerHTML = ''; }, 6000);
      scrollDown();
    }
    if (detail.type === 'message') {
      var stream = document.querySelector('[data-conversation][sse-connect]');
      if (stream && detail.lastEventId) {
        stream.setAttribute('sse-connect', stream.getAttribute('sse-connect').replace(/after=\d*/, 'after=' + detail.lastEventId));
      }
      var added = detail.lastEventId && document.getElementById('m-' + detail.lastEventId);
      if (added && added.classList.contains('dmsg-customer')) {
        if (typingSlot) typingSlot.innerHTML = '';
        document.body.dispatchEvent(new CustomEvent('kefu:customer-message'));
      }
      scrollDown();
    }
  });

  // ---- the reply box ----
  var composer = document.getElementById('composer');
  var body = document.getElementById('composer-body');
  var errorLine = document.getElementById('composer-error');
  var send = document.getElementById('composer-send');
  var mode = 'reply';

  function setMode(next) {
    if (!composer) return;
    mode = next;
    var url = composer.getAttribute('data-' + next);
    composer.setAttribute('action', url);
    composer.setAttribute('hx-post', url);
    htmx.process(composer);
    composer.classList.toggle('note-mode', next === 'note');
    send.textContent = next === 'note' ? 'Add note' : 'Send';
    body.placeholder = next === 'note'
      ? 'Private note: only agents see it…'
      : 'Reply to the customer… (Enter sends, Shift+Enter new line, / for canned responses)';
    document.querySelectorAll('.composer-tab').forEach(function (tab) {
      tab.setAttribute('aria-selected', String(tab.getAttribute('data-mode') === next));
    });
    body.focus();
  }
  document.querySelectorAll('.composer-tab').forEach(function (tab) {
    tab.addEventListener('click', function () { setMode(tab.getAttribute('data-mode')); });
  });

  // The reply box empties as soon as a message goes out; one that fails comes back.
  var sentText = null;
  document.body.addEventListener('htmx:beforeRequest', function (event) {
    if (event.detail.elt !== composer) return;
    sentText = body.value;
    body.value = '';
  });
  document.body.addEventListener('htmx:afterRequest', function (event) {
    var form = event.detail.elt;
    // "Save as FAQ" refused (e.g. the question is already an entry): say why in its place.
    if (form.classList && form.classList.contains('save-faq') && event.detail.failed && event.detail.xhr) {
      var problem = document.createElement('span');
      problem.className = 'save-error';
      problem.setAttribute('role', 'alert');
      problem.textContent = event.detail.xhr.responseText || 'Not saved. Try again.';
      form.replaceWith(problem);
      return;
    }
    if (form !== composer) return;
    if (event.detail.successful) {
      errorLine.textContent = '';
      hideCanned();
    } else if (event.detail.xhr) {
      if (sentText && !body.value) body.value = sentText;
      errorLine.textContent = event.detail.xhr.responseText || 'Not sent. Try again.';
    }
  });

  var lastTyping = 0;
  if (body) {
    body.addEventListener('input', function () {
      var now = Date.now();
      if (mode === 'reply' && body.value.trim() && now - lastTyping > 3000) {
        lastTyping = now;
        fetch(composer.getAttribute('data-typing'), {
          method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() }
        });
      }
      updateCanned();
    });
    body.addEventListener('keydown', function (event) {
      if (!cannedMenu.hidden) {
        if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
          event.preventDefault();
          moveCanned(event.key === 'ArrowDown' ? 1 : -1);
          return;
        }
        if (event.key === 'Enter' || event.key === 'Tab') {
          var active = cannedMenu.querySelector('[aria-selected="true"]');
          if (active) {
            event.preventDefault();
            insertCanned(active.getAttribute('data-body'));
            return;
          }
        }
        if (event.key === 'Escape') { hideCanned(); return; }
      }
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (body.value.trim()) composer.requestSubmit();
      }
    });
  }

  // ---- "/" canned responses ----
  var cannedMenu = document.getElementById('canned-menu') || document.createElement('ul');
  var canned = [];
  var cannedData = document.getElementById('canned-data');
  if (cannedData) {
    cannedData.content.querySelectorAll('option').forEach(function (option) {
      canned.push({ shortcut: option.value, body: option.textContent });
    });
  }
  function hideCanned() { cannedMenu.hidden = true; cannedMenu.replaceChildren(); }
  function updateCanned() {
    var match = /(^|\s)\/([\w-]*)$/.exec(body.value.slice(0, body.selectionStart));
    if (!match) { hideCanned(); return; }
    var term = match[2].toLowerCase();
    var found = canned.filter(function (c) {
      return c.shortcut.indexOf(term) === 0 || c.body.toLowerCase().indexOf(term) >= 0;
    }).slice(0, 8);
    cannedMenu.replaceChildren();
    if (!found.length) {
      var none = document.createElement('li');
      none.className = 'hint';
      none.textContent = canned.length ? 'No canned response matches /' + term : 'No canned responses yet (Admin → Canned responses).';
      cannedMenu.appendChild(none);
    }
    found.forEach(function (c, index) {
      var item = document.createElement('li');
      item.setAttribute('role', 'option');
      item.setAttribute('aria-selected', String(index === 0));
      item.setAttribute('data-body', c.body);
      var name = document.createElement('strong');
      name.textContent = '/' + c.shortcut;
      var text = document.createElement('span');
      text.textContent = ' ' + c.body.slice(0, 80);
      item.append(name, text);
      item.addEventListener('mousedown', function (event) {
        event.preventDefault();
        insertCanned(c.body);
      });
      cannedMenu.appendChild(item);
    });
    cannedMenu.hidden = false;
  }
  function moveCanned(step) {
    var items = Array.prototype.slice.call(cannedMenu.querySelectorAll('[role="option"]'));
    var at = items.findIndex(function (item) { return item.getAttribute('aria-selected') === 'true'; });
    var next = Math.max(0, Math.min(items.length - 1, at + step));
    items.forEach(function (item, index) { item.setAttribute('aria-selected', String(index === next)); });
  }
  function insertCanned(text) {
    var before = body.value.slice(0, body.selectionStart).replace(/\/[\w-]*$/, '');
    var after = body.value.slice(body.selectionStart);
    body.value = before + text + after;
    body.selectionStart = body.selectionEnd = before.length + text.length;
    hideCanned();
    body.focus();
  }

  // ---- suggested replies: one click puts the answer in the reply box to edit ----
  document.body.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('.insert-suggestion');
    if (!button || !body) return;
    setMode('reply');
    body.value = button.getAttribute('data-text');
    body.focus();
  });

  // ---- keyboard ----
  var selected = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll('.desk-row')); }
  function highlight(id) {
    rows().forEach(function (row) { row.classList.toggle('selected', row.getAttribute('data-id') === id); });
  }
  function move(step) {
    var list = rows();
    if (!list.length) return;
    var at = list.findIndex(function (row) { return row.getAttribute('data-id') === selected; });
    if (at < 0) at = list.findIndex(function (row) { return row.classList.contains('current'); });
    var next = list[Math.max(0, Math.min(list.length - 1, at + step))];
    selected = next.getAttribute('data-id');
    highlight(selected);
    next.scrollIntoView({ block: 'nearest' });
  }
  function click(selector) {
    var element = document.querySelector(selector);
    if (element) element.click();
  }
  document.addEventListener('keydown', function (event) {
    var target = event.target;
    var typing = target && (target.tagName === 'TEXTAREA' || target.tagName === 'INPUT' || target.tagName === 'SELECT');
    if (typing) {
      if (event.key === 'Escape') target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    switch (event.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'Enter':
        if (selected) {
          var link = document.querySelector('.desk-row[data-id="' + selected + '"] a');
          if (link) link.click();
        }
        break;
      case 'r': if (body) { event.preventDefault(); setMode('reply'); } break;
      case 'n': if (body) { event.preventDefault(); setMode('note'); } break;
      case 'a': click('[data-shortcut="a"]'); break;
      case 'e': click('[data-shortcut="e"]'); break;
      case '?':
        var help = document.getElementById('shortcuts');
        if (help && help.showModal) help.showModal();
        break;
      default: return;
    }
  });
})();

// chat.js — the chat panel shared by the room (clinician) and join
// (participant) pages: a log of messages with sender and time, and the form
// to write one. Server text only ever goes in with textContent.
import { $, clear, formatClock, say, sayRaw } from './page.js';

const MAX_BYTES = 2000;
const bytes = (s) => new TextEncoder().encode(s).length;

// ids: the element ids of the log (an <ol>), form, text field and error.
// senderOf(from) -> {key, vars} or {text}, and own(from) -> bool, label the
// messages; send(text) -> bool sends one.
export function chatPanel({ log, form, input, error, senderOf, own, send }) {
  const list = $(log);
  let messages = [];

  function item(m) {
    const li = document.createElement('li');
    li.className = own(m.from) ? 'msg own' : 'msg';
    const head = document.createElement('p');
    head.className = 'msg-head';
    const who = document.createElement('strong');
    const s = own(m.from) ? { key: 'chat.you' } : senderOf(m.from);
    if (s.key) say(who, s.key, s.vars);
    else sayRaw(who, s.text);
    const when = document.createElement('time');
    when.textContent = formatClock(m.ts);
    if (typeof m.ts === 'number') when.dateTime = new Date(m.ts * 1000).toISOString();
    head.append(who, ' ', when);
    const text = document.createElement('p');
    text.className = 'msg-text';
    text.textContent = String(m.text ?? '');
    li.append(head, text);
    return li;
  }

  function scroll() {
    list.scrollTop = list.scrollHeight;
  }

  $(form).addEventListener('submit', (ev) => {
    ev.preventDefault();
    const field = $(input);
    const text = field.value.trim();
    clear($(error));
    field.removeAttribute('aria-invalid');
    if (!text) {
      field.focus();
      return;
    }
    if (bytes(text) > MAX_BYTES) {
      say($(error), 'chat.too_long');
      field.setAttribute('aria-invalid', 'true');
      field.focus();
      return;
    }
    if (!send(text)) {
      say($(error), 'chat.not_sent');
      return;
    }
    field.value = '';
    field.focus();
  });

  return {
    // Replaces the whole history (after a (re)connect).
    set(all) {
      messages = Array.isArray(all) ? all.filter((m) => m && m.type === 'chat') : [];
      list.replaceChildren(...messages.map(item));
      scroll();
    },
    add(m) {
      messages.push(m);
      list.append(item(m));
      scroll();
    },
    // Re-labels everything (names known later, or a language switch).
    redraw() {
      list.replaceChildren(...messages.map(item));
    },
    error(key) {
      say($(error), key);
    },
  };
}

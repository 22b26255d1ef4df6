// The seed's "Real-time Chat", client side, with the unmodified PocketBase JS SDK:
// `pb.realtime.subscribe('chat', ...)` receives `{text, user}` for every message posted to
// /chat, by anyone. User data only ever reaches the page through `textContent`.
(() => {
  "use strict";

  const pb = new PocketBase(location.origin);

  const statusBadge = document.getElementById("status");
  const board = document.querySelector(".board");
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const userInput = document.getElementById("user");
  const textInput = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const errorLine = document.getElementById("error");

  /** The page keeps at most this many messages in the DOM. */
  const MAX_SHOWN = 500;
  const NAME_KEY = "sdk-chat:name";

  // --- connection state --------------------------------------------------------------

  const LABELS = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    offline: "offline, retrying…",
  };

  function setStatus(state) {
    if (statusBadge.dataset.state === state) return;
    statusBadge.dataset.state = state;
    statusBadge.textContent = LABELS[state];
  }

  // The SDK calls this when the stream drops (server restart, network loss); it then
  // reconnects on its own and re-sends the subscriptions.
  pb.realtime.onDisconnect = () => setStatus("reconnecting");

  // Backstop: whatever happened, a badge saying "live" must mean the SDK is connected.
  setInterval(() => {
    if (statusBadge.dataset.state === "live" && !pb.realtime.isConnected) {
      setStatus("reconnecting");
    }
  }, 1000);

  // --- rendering ---------------------------------------------------------------------

  function hue(name) {
    let h = 0;
    for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
    return h;
  }

  function render(message) {
    const user = String(message.user ?? "");
    const text = String(message.text ?? "");

    const item = document.createElement("li");
    item.className = "message";

    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = [...user][0] ?? "?";
    avatar.style.setProperty("--hue", String(hue(user)));

    const who = document.createElement("strong");
    who.className = "user";
    who.textContent = user;

    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text;

    item.append(avatar, who, body);
    return item;
  }

  function nearBottom() {
    return board.scrollHeight - board.scrollTop - board.clientHeight < 80;
  }

  function show(messages, { replace = false } = {}) {
    const stick = replace || nearBottom();
    const items = messages.map(render);
    if (replace) list.replaceChildren(...items);
    else list.append(...items);
    while (list.childElementCount > MAX_SHOWN) list.firstElementChild.remove();
    if (stick) board.scrollTop = board.scrollHeight;
  }

  // --- history and live messages -----------------------------------------------------
  //
  // The server stores a message before it broadcasts it, so the history is always a
  // superset of what was broadcast before it was read. Once the subscription is active, the
  // page loads the history; live messages arriving meanwhile are held back, and those the
  // history already holds (a prefix of them, matching its tail) are not shown twice.
  //
  // After a reconnect, /_realtime/pocketbase-tabs.js (loaded before the SDK) has the
  // server send what the page missed, before anything live: the history is loaded again only
  // when the server cannot tell what was missed (PB_RESYNC). Without that helper, every
  // reconnect reloads the history instead.

  const resumes = window.EventSource?.resumesRealtime === true;
  let loaded = false;

  let pending = null; // live messages held back while a history load is in flight
  let generation = 0;

  const same = (a, b) => a.user === b.user && a.text === b.text;

  /** How many of `held`'s first messages are the last ones of `history`. */
  function overlap(history, held) {
    for (let k = Math.min(history.length, held.length); k > 0; k--) {
      const tail = history.slice(history.length - k);
      if (tail.every((m, i) => same(m, held[i]))) return k;
    }
    return 0;
  }

  async function loadHistory() {
    const mine = ++generation;
    const held = [];
    pending = held;
    try {
      const response = await fetch("/api/messages", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const history = await response.json();
      if (mine !== generation) return; // a newer load took over, with these messages
      show([...history, ...held.slice(overlap(history, held))], { replace: true });
    } catch (err) {
      if (mine !== generation) return;
      showError(`Could not load the history (${err.message}).`);
      show(held);
    } finally {
      if (mine === generation) pending = null;
    }
  }

  function onMessage(message) {
    if (pending) pending.push(message);
    else show([message]);
  }

  // The SDK calls PB_CONNECT listeners on every (re)connect, after it has sent all
  // subscriptions: from then on no broadcast on `chat` is missed.
  function onConnect() {
    setStatus(pb.realtime.isConnected ? "live" : "connecting");
    if (loaded && resumes) return; // what was missed comes as messages, or as a PB_RESYNC
    loaded = true;
    loadHistory();
  }

  async function start() {
    setStatus("connecting");
    try {
      await Promise.all([
        pb.realtime.subscribe("PB_CONNECT", onConnect),
        pb.realtime.subscribe("PB_RESYNC", loadHistory),
        pb.realtime.subscribe("chat", onMessage),
      ]);
    } catch {
      // The SDK only retries by itself once it has been connected: retry the first
      // connection here, from a clean slate.
      setStatus("offline");
      await pb.realtime.unsubscribe().catch(() => {});
      setTimeout(start, 2000);
    }
  }

  // --- posting -------------------------------------------------------------------------

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.hidden = true;
    errorLine.textContent = "";
  }

  let sending = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    sendButton.disabled = true;
    clearError();
    const user = userInput.value.trim();
    try {
      // Nothing is appended here: the message comes back over `chat`, like everyone's.
      const response = await fetch("/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user, text: textInput.value }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(answer.error || `The server answered ${response.status}.`);
      }
      textInput.value = "";
      try {
        localStorage.setItem(NAME_KEY, user);
      } catch {
        // storage may be disabled; the name just is not remembered
      }
    } catch (err) {
      showError(err instanceof TypeError ? "The server cannot be reached." : err.message);
    } finally {
      sending = false;
      sendButton.disabled = false;
      textInput.focus();
    }
  });

  // Enter sends; Shift+Enter (or Enter while composing text in an IME) is a new line.
  textInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  try {
    userInput.value = localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    // no storage: start with an empty name
  }
  (userInput.value ? textInput : userInput).focus();

  start();
})();

// pocketbase-sse: an htmx 2.x extension for PocketBase's realtime protocol (GET/POST /api/realtime).
// Attribute-compatible with the npm package pocketbase-htmx-ext-sse:
//
//   <div hx-ext="pocketbase-sse">
//     <div sse-swap="chat, news" hx-swap="beforeend"></div>   <!-- swaps each event's HTML in -->
//     <div hx-get="/count" hx-trigger="sse:ping"></div>        <!-- re-fetches on each "ping" -->
//   </div>
//
// Differences from that package: one EventSource per page shared by every element, topics are
// trimmed, added/removed elements update the subscription, POSTs carry the cookie, reconnects
// re-subscribe, and containers show the connection state (class "sse-disconnected",
// attribute data-sse-state, events "pocketbase-sse:connected"/"pocketbase-sse:disconnected" on document).
// Reconnects resume: the browser's own retries send Last-Event-ID, and a stream this extension
// opens again carries the last id seen as ?lastEventId=, so a server that keeps history sends
// what was missed. When it cannot (PB_RESYNC), each element listening to one of the named
// topics gets the DOM event "sse:resync" (answer it with hx-trigger="sse:resync" to reload; an
// element with that trigger and no topic of its own hears every resync).
//
// One stream per browser (opt-in): with `sse-share-tabs` on a container, the page's tabs of
// one origin elect one of them (Web Locks) to hold the only EventSource; it subscribes to the
// union of every tab's topics and hands each event to the others (BroadcastChannel). When it
// closes, another takes over within a moment and resumes from the last event id, so nothing is
// lost or shown twice. Over HTTP/1.1 a browser allows six connections per origin and every
// stream holds one: without sharing, the sixth tab starves the page's own requests. The
// attribute's value scopes the sharing (put the signed-in user's id there): tabs share only
// with tabs of the same scope, so a tab never shows another user's events. Where either API is
// missing, without the attribute, or on a page that came over HTTP/2 or 3 (where every tab's
// stream shares one connection), each tab has its own stream.
;(function () {
  'use strict'
  var EXT = 'pocketbase-sse'
  var ENDPOINT = '/api/realtime'
  var BACKOFF = [200, 500, 1000, 2000] // ms before recreating a CLOSED EventSource

  var api // htmx's internal API, handed to init()
  var elts = new Map() // element -> {swap: [topics], trig: [topics]}
  var source = null // the page's single EventSource, created with the first topic
  var listening = new Set() // event names that have a listener on `source`
  var clientId = null // id from the current stream's PB_CONNECT; null while there is none
  var lastId = null // id of the last event seen on any stream of this page: where to resume
  var posted = null // clientId + topics of the last successful POST
  var posting = false // one POST at a time, so the server cannot apply them out of order
  var scheduled = false
  var lazyTimer = null
  var connected = false
  var attempt = 0
  var retryTimer = null
  var share // undefined: not decided yet; null: this tab has its own stream; else see sharing()

  htmx.defineExtension(EXT, {
    init: function (apiRef) {
      api = apiRef
    },
    // let htmx process sse-swap elements even when they carry no hx- attribute
    getSelectors: function () {
      return ['[sse-swap]', '[data-sse-swap]']
    },
    onEvent: function (name, evt) {
      var elt = evt.detail.elt || evt.target
      if (name === 'htmx:afterProcessNode') {
        if (isContainer(elt)) mark(elt)
        var t = topicsOf(elt) // re-read: htmx re-inits an element whose attributes changed
        var known = elts.delete(elt)
        if (t.swap.length || t.trig.length || t.resync) elts.set(elt, t)
        if (known || elts.has(elt)) schedule()
      } else if (name === 'htmx:beforeCleanupElement') {
        if (elts.delete(elt)) schedule(true)
      }
    },
  })

  // Elements removed without htmx (el.remove(), innerHTML = ...) get no cleanup event.
  new MutationObserver(function (records) {
    if (elts.size && records.some(function (r) { return r.removedNodes.length })) schedule(true)
  }).observe(document, { childList: true, subtree: true })

  function split(list) {
    return list.map(function (s) { return s.trim() }).filter(Boolean)
  }

  function topicsOf(elt) {
    var trig = api.hasAttribute(elt, 'hx-trigger') ? api.getTriggerSpecs(elt) : []
    var names = split(trig.map(function (s) {
      return s.trigger.slice(0, 4) === 'sse:' ? s.trigger.slice(4) : ''
    }))
    return {
      swap: split((api.getAttributeValue(elt, 'sse-swap') || '').split(',')),
      // "sse:resync" is the extension's own event, not a topic
      trig: names.filter(function (name) { return name !== 'resync' }),
      resync: names.indexOf('resync') >= 0,
    }
  }

  function isContainer(elt) {
    return split((api.getAttributeValue(elt, 'hx-ext') || '').split(',')).indexOf(EXT) >= 0
  }

  function mark(elt) {
    elt.classList.toggle('sse-disconnected', !connected)
    elt.setAttribute('data-sse-state', connected ? 'connected' : 'disconnected')
    // Which tab holds the shared stream ("leader") and which are handed its events.
    if (share) elt.setAttribute('data-sse-share', share.leader ? 'leader' : 'follower')
  }

  function markAll() {
    document.querySelectorAll('[hx-ext], [data-hx-ext]').forEach(function (elt) {
      if (isContainer(elt)) mark(elt)
    })
  }

  function setConnected(on) {
    if (on === connected) return
    connected = on
    markAll()
    document.dispatchEvent(new CustomEvent(EXT + (on ? ':connected' : ':disconnected')))
    if (share && share.leader) share.channel.postMessage({ type: 'state', connected: on })
  }

  function currentTopics() {
    var set = new Set()
    elts.forEach(function (t, elt) {
      if (!elt.isConnected) return elts.delete(elt) // left the page: forget it
      t.swap.concat(t.trig).forEach(function (k) { set.add(k) })
    })
    return Array.from(set)
  }

  // Many elements change in one swap: sync once, after the current task's DOM work.
  // Removals sync lazily: htmx processes new content ~20ms (settle delay) after it removed the
  // old, so a replaced element would briefly unsubscribe; extra events just find no element.
  function schedule(lazy) {
    if (lazy) {
      lazyTimer = lazyTimer || setTimeout(function () { lazyTimer = null; flush() }, 250)
      return
    }
    if (scheduled) return
    scheduled = true
    Promise.resolve().then(flush)
  }

  function flush() {
    scheduled = false
    var topics = currentTopics()
    if (share === undefined && topics.length) {
      share = sharing()
      markAll()
    }
    if (share && !share.leader) return announce(topics)
    if (share) topics = withPeers(topics)
    if (!source && topics.length && (!share || share.ready)) connect()
    if (source) topics.forEach(listen)
    if (!clientId || posting) return // PB_CONNECT / the running POST's completion flushes again
    var key = JSON.stringify([clientId, topics.slice().sort()])
    if (key === posted) return
    var id = clientId
    posting = true
    fetch(ENDPOINT, {
      method: 'POST',
      credentials: 'same-origin', // the server knows the user by its auth cookie
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId: id, subscriptions: topics }),
    })
      .then(function (r) {
        if (!r.ok) throw new Error('POST ' + ENDPOINT + ' answered ' + r.status)
      })
      .then(function () {
        posting = false
        if (id === clientId) {
          posted = key
          attempt = 0
          setConnected(true)
        }
        schedule() // topics may have changed meanwhile
      }, function (err) {
        posting = false
        if (id !== clientId) return schedule() // answer for a stream that is already gone
        console.error('[' + EXT + ']', err.message || err)
        reconnect() // 404 (unknown id) or 403 (user logged in/out): only a new stream helps
      })
  }

  function listen(name) {
    if (listening.has(name)) return
    listening.add(name)
    source.addEventListener(name, onMessage)
  }

  function connect() {
    retryTimer = null
    if (source) source.close()
    var url = lastId ? ENDPOINT + '?lastEventId=' + encodeURIComponent(lastId) : ENDPOINT
    var es = (source = new EventSource(url))
    listening = new Set()
    clientId = null
    es.addEventListener('PB_CONNECT', function (e) {
      try { clientId = JSON.parse(e.data).clientId || null } catch (_) { clientId = null }
      if (!lastId && e.lastEventId) lastId = e.lastEventId // nothing seen yet: resume from here
      schedule() // every new client id needs the whole set POSTed again
    })
    es.addEventListener('PB_RESYNC', onResync)
    es.addEventListener('error', function (e) {
      if (e.data !== undefined) return // a server event that happens to be named "error"
      clientId = null // the server forgets a client together with its stream
      setConnected(false)
      // CONNECTING: the browser retries by itself (a clean end of stream included) and sends
      // Last-Event-ID. CLOSED: it gave up (e.g. an HTTP error status), so we start over.
      if (es.readyState === EventSource.CLOSED) reconnect()
    })
    schedule() // add listeners for the current topics
  }

  function reconnect() {
    source.close()
    clientId = null
    setConnected(false)
    if (retryTimer) return
    retryTimer = setTimeout(connect, BACKOFF[Math.min(attempt++, BACKOFF.length - 1)])
  }

  function onMessage(e) {
    if (typeof e.data !== 'string') return // EventSource's own open/error events
    if (e.lastEventId) lastId = e.lastEventId
    if (share && share.leader) {
      share.channel.postMessage({ type: 'event', name: e.type, data: e.data, id: e.lastEventId })
    }
    var html
    try { html = JSON.parse(e.data) } catch (_) { html = e.data } // servers JSON-encode multi-line HTML
    if (typeof html !== 'string') html = JSON.stringify(html)
    var detail = function () { return { type: e.type, data: e.data } } // fresh: htmx writes into it
    // snapshot: a swap can add elements (and so entries) synchronously
    Array.from(elts).forEach(function (entry) {
      var elt = entry[0], t = entry[1]
      if (!elt.isConnected) return
      var hit = false
      if (t.swap.indexOf(e.type) >= 0 && api.triggerEvent(elt, 'htmx:sseBeforeMessage', detail())) {
        swap(elt, html)
        hit = true
      }
      if (t.trig.indexOf(e.type) >= 0) {
        api.triggerEvent(elt, 'sse:' + e.type, detail()) // runs hx-trigger="sse:<name>"
        hit = true
      }
      if (hit) api.triggerEvent(elt, 'htmx:sseMessage', detail())
    })
  }

  // The server cannot tell what this page missed on these topics: their elements reload.
  function onResync(e) {
    if (e.lastEventId) lastId = e.lastEventId
    if (share && share.leader) {
      share.channel.postMessage({ type: 'resync', data: e.data, id: e.lastEventId })
    }
    var topics = []
    try { topics = JSON.parse(e.data).topics || [] } catch (_) {}
    var base = function (key) { return key.split('?')[0] }
    Array.from(elts).forEach(function (entry) {
      var elt = entry[0], t = entry[1]
      if (!elt.isConnected) return
      var mine = t.swap.concat(t.trig).map(base)
      // an element that listens to no topic hears every resync; one that does, its own
      var hit = mine.length ? topics.filter(function (topic) { return mine.indexOf(topic) >= 0 }) : topics
      if (hit.length) api.triggerEvent(elt, 'sse:resync', { topics: hit })
    })
    document.dispatchEvent(new CustomEvent(EXT + ':resync', { detail: { topics: topics } }))
  }

  // --- one stream per browser, shared by its tabs -----------------------------------------

  // How long a new leader waits for the other tabs' topics before it opens the stream: its
  // first subscription decides what the server replays, so it should hold every tab's topics.
  var GATHER_MS = 150

  function sharing() {
    var holder = document.querySelector('[sse-share-tabs], [data-sse-share-tabs]')
    if (!holder || typeof BroadcastChannel !== 'function' || !(navigator.locks && navigator.locks.request)) {
      return null
    }
    // Over HTTP/2 or 3 every tab's stream shares the page's one connection: nothing to save.
    var nav = performance.getEntriesByType && performance.getEntriesByType('navigation')[0]
    if (nav && /^h[23]/.test(nav.nextHopProtocol || '')) return null
    var scope = holder.getAttribute('sse-share-tabs') || holder.getAttribute('data-sse-share-tabs') || ''
    var name = EXT + ':' + scope
    var self = {
      tab: Math.random().toString(36).slice(2) + Date.now().toString(36),
      channel: new BroadcastChannel(name),
      leader: false,
      ready: false, // a leader that has gathered the other tabs' topics
      peers: new Map(), // tab -> its topics (leader only)
      announced: null, // the topics this follower last told the leader
    }
    self.channel.onmessage = function (m) { onShared(m.data || {}) }
    addEventListener('pagehide', function () {
      if (!self.leader) self.channel.postMessage({ type: 'bye', tab: self.tab })
    })
    // Held for as long as this tab lives: the next tab in line gets it when this one goes.
    navigator.locks.request(name, function () {
      self.leader = true
      self.peers.clear()
      markAll()
      self.channel.postMessage({ type: 'leader' })
      setTimeout(function () {
        self.ready = true
        schedule()
      }, GATHER_MS)
      return new Promise(function () {}) // never settles: the lock goes with the tab

    })
    self.channel.postMessage({ type: 'hello', tab: self.tab })
    return self
  }

  function announce(topics) {
    var key = JSON.stringify(topics.slice().sort())
    if (key === share.announced) return
    share.announced = key
    share.channel.postMessage({ type: 'topics', tab: share.tab, topics: topics })
  }

  function withPeers(topics) {
    var set = new Set(topics)
    share.peers.forEach(function (theirs) { theirs.forEach(function (k) { set.add(k) }) })
    return Array.from(set)
  }

  function onShared(m) {
    if (share.leader) {
      if (m.type === 'topics') {
        share.peers.set(m.tab, m.topics || [])
        schedule()
      } else if (m.type === 'bye') {
        if (share.peers.delete(m.tab)) schedule(true)
      } else if (m.type === 'hello') {
        share.channel.postMessage({ type: 'state', connected: connected })
        share.channel.postMessage({ type: 'leader' })
      }
      return
    }
    if (m.type === 'leader') {
      share.announced = null // a new leader knows nobody's topics yet
      announce(currentTopics())
    } else if (m.type === 'state') {
      setConnected(!!m.connected)
    } else if (m.type === 'event') {
      onMessage({ type: m.name, data: m.data, lastEventId: m.id })
    } else if (m.type === 'resync') {
      onResync({ data: m.data, lastEventId: m.id })
    }
  }

  function swap(elt, html) {
    api.withExtensions(elt, function (ext) { html = ext.transformResponse(html, null, elt) })
    var target = api.getTarget(elt) // hx-target, else the element itself
    if (!target) return
    try {
      // htmx.swap honours hx-swap (style and modifiers), OOB swaps, and processes the new content
      htmx.swap(target, html, api.getSwapSpecification(elt), { contextElement: elt })
    } catch (err) {
      console.error('[' + EXT + ']', err)
    }
  }
})()

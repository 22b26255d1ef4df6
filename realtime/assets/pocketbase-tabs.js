// pocketbase-tabs: one realtime stream per browser for pages that use the unmodified
// PocketBase JS SDK, shared by every tab of the origin, and resumed across reconnects.
//
//   <script src="/_realtime/pocketbase-tabs.js" data-scope="user:ann"></script>  <!-- first -->
//   <script src="pocketbase.umd.js"></script>
//
// Over HTTP/1.1 a browser allows six connections per site, and every tab's stream holds one:
// the sixth tab leaves the page's own requests without a connection. Loaded before the SDK,
// this replaces the EventSource the SDK opens on /api/realtime with a stand-in fed by the tab
// that holds the only real stream (elected with Web Locks; events handed over on a
// BroadcastChannel), and routes the SDK's subscription POSTs to that tab, which subscribes its
// stream to the union of every tab's topics. When that tab closes, the next one takes over
// and opens a stream that resumes from the last event id: the SDKs of the other tabs notice
// nothing, and on channels with a history nothing is lost or shown twice. A `PB_RESYNC`
// (what was missed cannot be told) reaches `pb.realtime.subscribe("PB_RESYNC", fn)`.
//
// Tabs share only with tabs of the same `data-scope`: put the signed-in user there. The
// shared stream authenticates with the Authorization header of the latest subscription
// request of any tab in the scope, so tabs of one scope must be entitled to the same events.
// Where Web Locks or BroadcastChannel are missing, nothing is replaced. Use it instead of
// pocketbase-resume.js, not with it (it resumes too).
;(function (global) {
  'use strict'
  var NativeSource = global.EventSource
  var nativeFetch = global.fetch
  if (!NativeSource || !nativeFetch || NativeSource.sharedByTabs) return
  if (typeof BroadcastChannel !== 'function' || !(global.navigator && navigator.locks)) return

  var ENDPOINT = /\/api\/realtime(\?|#|$)/
  var GATHER_MS = 150 // how long a new leader waits for the other tabs' topics
  var script = document.currentScript
  var scope = (script && script.getAttribute('data-scope')) || ''
  var name = 'pocketbase-tabs:' + scope
  var tab = Math.random().toString(36).slice(2) + Date.now().toString(36)
  var channel = new BroadcastChannel(name)

  var stand = null // the SDK's current stand-in EventSource in this tab
  var mine = { topics: [], auth: null } // what this tab's SDK last subscribed to, and as whom
  var live = false // the shared stream is connected and subscribed
  var lastId = null // the last event id seen, where a new stream resumes

  // The leader's side.
  var leader = false
  var ready = false
  var peers = new Map() // tab -> {topics, auth}
  var real = null // the real EventSource
  var realId = null // its client id
  var listening = new Set()
  var posting = false
  var posted = null
  var waiting = [] // {tab, request}: subscription POSTs to answer once the union is posted

  function post(message) { channel.postMessage(message) }

  // --- every tab: the stand-in the SDK gets ------------------------------------------------

  function StandIn(url) {
    this.url = String(url)
    this.readyState = 0
    this.withCredentials = false
    this.onerror = null
    this.onopen = null
    this.onmessage = null
    this._listeners = {}
    stand = this
    // After the SDK has added its listeners, which it does right after making the stream.
    var self = this
    setTimeout(function () { if (live) self._connect() }, 0)
  }
  StandIn.prototype.addEventListener = function (type, fn) {
    ;(this._listeners[type] = this._listeners[type] || []).push(fn)
  }
  StandIn.prototype.removeEventListener = function (type, fn) {
    var list = this._listeners[type]
    if (list) this._listeners[type] = list.filter(function (f) { return f !== fn })
  }
  StandIn.prototype.close = function () {
    this.readyState = 2
    if (stand === this) stand = null
  }
  StandIn.prototype._dispatch = function (type, data, id) {
    if (this.readyState === 2) return
    var event = new MessageEvent(type, { data: data, lastEventId: id || '' })
    ;(this._listeners[type] || []).slice().forEach(function (fn) { fn.call(this, event) }, this)
  }
  // Its own PB_CONNECT, with an id of this tab's: the SDK subscribes with it, and that POST is
  // answered here.
  StandIn.prototype._connect = function () {
    if (this.readyState !== 0) return
    this.readyState = 1
    var id = 'tab' + tab
    this._dispatch('PB_CONNECT', JSON.stringify({ clientId: id }), id)
  }

  function SharedEventSource(url, init) {
    var href = String(url)
    if (!ENDPOINT.test(href)) return new NativeSource(url, init)
    return new StandIn(href)
  }
  SharedEventSource.prototype = NativeSource.prototype
  SharedEventSource.CONNECTING = 0
  SharedEventSource.OPEN = 1
  SharedEventSource.CLOSED = 2
  SharedEventSource.sharedByTabs = true
  SharedEventSource.resumesRealtime = true // as pocketbase-resume.js: reconnects resume
  global.EventSource = SharedEventSource

  // The SDK's subscription POST for the stand-in's id: handed to the leader, answered when
  // the union is subscribed.
  global.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || String(input)
    var method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase()
    if (method !== 'POST' || !ENDPOINT.test(url) || !init || typeof init.body !== 'string') {
      return nativeFetch.apply(this, arguments)
    }
    var body
    try { body = JSON.parse(init.body) } catch (_) { return nativeFetch.apply(this, arguments) }
    if (!body || body.clientId !== 'tab' + tab) return nativeFetch.apply(this, arguments)
    var headers = new Headers(init.headers || {})
    mine = { topics: body.subscriptions || [], auth: headers.get('Authorization') }
    return new Promise(function (resolve) {
      answers.push(resolve)
      var request = { tab: tab, topics: mine.topics, auth: mine.auth }
      if (leader) onTopics(request, true)
      else post({ type: 'topics', tab: tab, topics: mine.topics, auth: mine.auth, answer: true })
    })
  }
  var answers = [] // this tab's SDK POSTs waiting for the leader's answer

  function answered(status) {
    var pending = answers
    answers = []
    pending.forEach(function (resolve) {
      resolve(new Response(status === 204 ? null : '{}', {
        status: status,
        headers: status === 204 ? {} : { 'Content-Type': 'application/json' },
      }))
    })
  }

  // --- the leader --------------------------------------------------------------------------

  navigator.locks.request(name, function () {
    leader = true
    peers.clear()
    if (answers.length) waiting.push(tab) // a subscription the old leader left unanswered
    post({ type: 'leader' })
    setTimeout(function () { ready = true; sync() }, GATHER_MS)
    return new Promise(function () {}) // held for this tab's life: the lock goes with it
  })

  function onTopics(request, own) {
    peers.set(request.tab, { topics: request.topics || [], auth: request.auth || null })
    if (request.answer || own) waiting.push(request.tab)
    sync()
  }

  function union() {
    var set = new Set(mine.topics)
    peers.forEach(function (p) { p.topics.forEach(function (t) { set.add(t) }) })
    return Array.from(set)
  }

  function auth() {
    var latest = mine.auth
    peers.forEach(function (p) { if (p.auth) latest = p.auth })
    return latest
  }

  function sync() {
    if (!leader || !ready) return
    if (!real) return open()
    var topics = union()
    topics.forEach(listen)
    if (!realId || posting) return
    var key = JSON.stringify([realId, topics.slice().sort(), auth()])
    if (key === posted) return answer(204)
    posting = true
    var id = realId
    var headers = { 'Content-Type': 'application/json' }
    if (auth()) headers.Authorization = auth()
    nativeFetch.call(global, realUrl(), {
      method: 'POST',
      headers: headers,
      body: JSON.stringify({ clientId: id, subscriptions: topics }),
    }).then(function (response) {
      posting = false
      if (id !== realId) return sync()
      if (response.ok) posted = key
      answer(response.ok ? 204 : response.status)
      if (!response.ok && response.status === 404) return reopen() // the server forgot it
      sync()
    }, function () {
      posting = false
      answer(503)
    })
  }

  function answer(status) {
    var tabs = waiting
    waiting = []
    tabs.forEach(function (t) {
      if (t === tab) answered(status)
      else post({ type: 'answer', tab: t, status: status })
    })
    if (status === 204) setLive(true)
  }

  function realUrl() {
    return (stand && stand.url.split('?')[0]) || '/api/realtime'
  }

  function open() {
    var url = realUrl()
    if (lastId) url += '?lastEventId=' + encodeURIComponent(lastId)
    real = new NativeSource(url)
    realId = null
    posted = null
    listening = new Set()
    real.addEventListener('PB_CONNECT', function (e) {
      realId = e.lastEventId || null
      if (!lastId && e.lastEventId) lastId = e.lastEventId // nothing seen yet: resume from here
      waiting = waiting.concat(Array.from(peers.keys()))
      sync()
    })
    listen('PB_RESYNC')
    real.onerror = function () {
      realId = null
      if (live) {
        setLive(false)
        post({ type: 'down' })
        down()
      }
      // CLOSED: the browser gave up (an error status); CONNECTING: it retries by itself.
      if (real.readyState === 2) setTimeout(reopen, 1000)
    }
  }

  function reopen() {
    if (real) real.close()
    real = null
    sync()
  }

  function listen(topic) {
    if (listening.has(topic)) return
    listening.add(topic)
    real.addEventListener(topic, function (e) {
      if (e.lastEventId) lastId = e.lastEventId
      post({ type: 'event', name: e.type, data: e.data, id: e.lastEventId })
      if (stand) stand._dispatch(e.type, e.data, e.lastEventId)
    })
  }

  // The shared stream dropped: each tab's SDK hears it as its own stream's error, opens a new
  // stand-in, and subscribes again once the stream is back (what was missed meanwhile is
  // replayed to every tab).
  function down() {
    if (stand && typeof stand.onerror === 'function') stand.onerror(new Event('error'))
  }

  function setLive(on) {
    if (live === on) return
    live = on
    post({ type: 'live', on: on })
    if (on && stand) stand._connect()
  }

  // --- messages between tabs ---------------------------------------------------------------

  channel.onmessage = function (m) {
    var message = m.data || {}
    if (leader) {
      if (message.type === 'topics') onTopics(message, false)
      else if (message.type === 'bye' && peers.delete(message.tab)) sync()
      else if (message.type === 'hello') post({ type: 'live', on: live })
      return
    }
    if (message.type === 'leader') {
      // A new leader knows nobody's topics yet, and answers what the old one left unanswered.
      if (mine.topics.length || mine.auth || answers.length) {
        post({ type: 'topics', tab: tab, topics: mine.topics, auth: mine.auth, answer: answers.length > 0 })
      }
    } else if (message.type === 'live') {
      live = !!message.on
      if (live && stand) stand._connect()
    } else if (message.type === 'down') {
      live = false
      down()
    } else if (message.type === 'answer' && message.tab === tab) {
      answered(message.status)
    } else if (message.type === 'event') {
      if (message.id) lastId = message.id
      if (stand) stand._dispatch(message.name, message.data, message.id)
    }
  }
  addEventListener('pagehide', function () {
    if (!leader) post({ type: 'bye', tab: tab })
  })
  post({ type: 'hello', tab: tab })
})(window)

// Keeps the message list right while it reloads after a resync (hx-trigger="sse:resync"):
// live messages go on arriving while the reload is on its way, so the list the server read
// and the live ones overlap, or miss each other. Every message carries its row id
// (id="message-N", larger for a later message), by which:
// - a live message the page already shows (the reloaded list had it) is not appended again;
// - a live message that arrived after the list was read is kept when the list replaces the rest.
(function () {
  'use strict'

  var PREFIX = 'message-'

  function idOf(element) {
    return element.id.indexOf(PREFIX) === 0 ? Number(element.id.slice(PREFIX.length)) : NaN
  }

  function isMessages(element) {
    return element && element.id === 'messages'
  }

  // A live message: the extension's cancelable event before it swaps the event's HTML in.
  document.addEventListener('htmx:sseBeforeMessage', function (e) {
    if (!isMessages(e.target) || e.detail.type !== 'chat') return
    var html = e.detail.data
    try { html = JSON.parse(html) } catch (_) {}
    if (typeof html !== 'string') return
    var incoming = document.createElement('template')
    incoming.innerHTML = html
    var message = incoming.content.querySelector('.message[id]')
    if (message && document.getElementById(message.id)) e.preventDefault()
  })

  // The reloaded list: whatever the page shows with a later id than the list's last arrived
  // live after the server read it, and stays at the end.
  document.addEventListener('htmx:beforeSwap', function (e) {
    if (!isMessages(e.detail.target) || !e.detail.shouldSwap) return
    var list = document.createElement('template')
    list.innerHTML = e.detail.serverResponse
    var last = -Infinity
    list.content.querySelectorAll('.message[id]').forEach(function (message) {
      last = Math.max(last, idOf(message))
    })
    var later = Array.prototype.filter.call(
      e.detail.target.querySelectorAll('.message[id]'),
      function (message) { return idOf(message) > last },
    )
    if (later.length) {
      e.detail.serverResponse += later.map(function (message) { return message.outerHTML }).join('')
    }
  })
})()

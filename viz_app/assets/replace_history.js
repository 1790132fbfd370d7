// Panel's Location pushes a history entry for every change of the link, and nothing restores a state
// when Back or Forward returns to one: the page would show one state under another's URL. The link is
// kept current in place instead, so Back leaves the app as the user expects of a tool, not a site.
// Run by the served page once it is live (app.py), and by the static page first thing (head.html).
if (!window.memvizReplacesHistory) {
  window.memvizReplacesHistory = true
  history.pushState = function (state, title, url) { history.replaceState(state, title, url) }
}

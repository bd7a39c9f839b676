// The dashboard's one script. Every page works without it; it only improves them:
// "Copy" buttons, times in the viewer's time zone, filters that apply as they change, and
// confirm steps as dialogs (without it, their links open the same step as a page).
(function () {
  'use strict';

  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = 'Copied';
        setTimeout(function () { button.textContent = 'Copy'; }, 2000);
      }, function () {
        field.select();
      });
    });
  });

  // <time data-format> from the server is UTC; show it in this browser's time zone.
  var pad = function (n) { return (n < 10 ? '0' : '') + n; };
  var zone = '';
  try {
    zone = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
      .formatToParts(new Date()).filter(function (p) { return p.type === 'timeZoneName'; })[0].value;
  } catch { zone = ''; }
  function local(date) {
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
      pad(date.getHours()) + ':' + pad(date.getMinutes()) + (zone ? ' ' + zone : '');
  }
  function relative(date, now, past) {
    var ms = (past ? Math.min(date.getTime(), now) : date.getTime()) - now;
    var seconds = Math.round(ms / 1000);
    var size = Math.abs(seconds);
    var say = function (n, unit) { return seconds < 0 ? n + ' ' + unit + ' ago' : 'in ' + n + ' ' + unit; };
    if (size < 45) return ms > 0 ? 'in a moment' : 'just now';
    if (size < 3600) return say(Math.max(1, Math.round(size / 60)), 'min');
    if (size < 86400) return say(Math.round(size / 3600), 'h');
    if (size < 365 * 86400) return say(Math.round(size / 86400), 'd');
    return local(date).slice(0, 10);
  }
  document.querySelectorAll('time[data-format]').forEach(function (el) {
    var date = new Date(el.getAttribute('datetime'));
    if (isNaN(date.getTime())) return;
    el.title = local(date);
    // Relative to the server's clock when the page was made, and what has happened never ahead
    // of it (see the `ago` helper), so a viewer's clock that is off does not move the times.
    var now = Number(el.getAttribute('data-now')) || Date.now();
    el.textContent = el.getAttribute('data-format') === 'relative'
      ? relative(date, now, el.hasAttribute('data-past'))
      : local(date);
  });

  // Filter forms (GET) submit themselves when a choice changes, and shortly after typing stops.
  document.querySelectorAll('form[data-autosubmit]').forEach(function (form) {
    var button = form.querySelector('[data-autosubmit-button]');
    if (button) button.closest('.field').hidden = true;
    var timer;
    var submit = function () {
      clearTimeout(timer);
      var page = form.querySelector('input[name="page"]');
      if (page) page.remove();
      if (form.requestSubmit) form.requestSubmit();
      else form.submit();
    };
    form.querySelectorAll('select').forEach(function (select) { select.addEventListener('change', submit); });
    form.querySelectorAll('input[type="search"]').forEach(function (input) {
      input.addEventListener('input', function () {
        clearTimeout(timer);
        timer = setTimeout(submit, 500);
      });
      // After the page reloads with a search, typing carries on where it was.
      if (input.value && new URLSearchParams(location.search).has(input.name)) {
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      }
    });
  });

  // Confirm steps: a link to the confirm page opens the same step as a modal dialog.
  document.querySelectorAll('a[data-dialog]').forEach(function (link) {
    var dialog = document.getElementById(link.getAttribute('data-dialog'));
    if (!dialog || typeof dialog.showModal !== 'function') return;
    link.addEventListener('click', function (event) {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.querySelectorAll('[data-close]').forEach(function (button) {
      button.addEventListener('click', function () { dialog.close(); link.focus(); });
    });
  });
})();

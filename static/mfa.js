// Passkeys in the dashboard: registering one, and answering with one (sign-in, re-verify).
// Everything else on these pages works without JavaScript.
(function () {
  var webauthn = window.SimpleWebAuthnBrowser;
  var supported = webauthn && webauthn.browserSupportsWebAuthn();
  document.querySelectorAll('.needs-webauthn').forEach(function (el) { el.hidden = !supported; });
  document.querySelectorAll('.no-webauthn').forEach(function (el) { el.hidden = !!supported; });
  if (!supported) return;
  var csrf = (document.getElementById('csrf-token') || {}).value || '';
  var errorBox = document.getElementById('passkey-error');

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body || {}),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) throw new Error(json.message || 'That did not work; reload the page and try again.');
        return json;
      });
    });
  }

  function fail(error) {
    if (!errorBox) return;
    // A cancelled browser prompt is not worth a message.
    if (error && error.name === 'NotAllowedError') return;
    errorBox.textContent = (error && error.message) || 'The passkey was not accepted.';
    errorBox.hidden = false;
  }

  var add = document.getElementById('passkey-add');
  if (add) {
    add.addEventListener('submit', function (event) {
      event.preventDefault();
      var name = (document.getElementById('f-passkeyName').value || '').trim() || 'Passkey';
      post('/auth/mfa/passkeys/options')
        .then(function (start) {
          return webauthn.startRegistration({ optionsJSON: start.webauthn }).then(function (credential) {
            return post('/auth/mfa/passkeys', { challenge: start.challenge, webauthn: credential, name: name });
          });
        })
        .then(function (added) {
          if (!added.recoveryCodes) return window.location.assign('/dashboard/security?flash=passkey-added');
          // A first factor comes with recovery codes, shown this once.
          var list = document.getElementById('new-recovery-codes-list');
          added.recoveryCodes.forEach(function (code) {
            var item = document.createElement('li');
            var text = document.createElement('code');
            text.textContent = code;
            item.appendChild(text);
            list.appendChild(item);
          });
          add.hidden = true;
          var shown = document.getElementById('new-recovery-codes');
          shown.hidden = false;
          shown.focus();
        })
        .catch(fail);
    });
  }

  // Answering with a passkey: the page says where to send the answer and where to go next.
  var answer = document.getElementById('factor-passkey');
  if (answer) {
    answer.addEventListener('click', function () {
      var action = answer.getAttribute('data-action');
      var embedded = document.getElementById('webauthn-options');
      var options = embedded
        ? Promise.resolve({ webauthn: JSON.parse(embedded.textContent) })
        : post(action + '/options');
      options
        .then(function (start) {
          return webauthn.startAuthentication({ optionsJSON: start.webauthn }).then(function (credential) {
            return post(action, { challenge: start.challenge, webauthn: credential, next: answer.getAttribute('data-next') });
          });
        })
        .then(function (done) { window.location.assign(done.redirect || '/dashboard'); })
        .catch(fail);
    });
  }
})();

/* The page works without this file. Inside Telegram it signs in with the Mini App's initData
   (from Telegram's script, or from the address when that script did not load), and takes the
   theme's colours, the back button, outside links and Stars invoices from Telegram. */
(function () {
  "use strict";
  var tg = window.Telegram && window.Telegram.WebApp;
  var fromAddress = new URLSearchParams(window.location.hash.slice(1)).get("tgWebAppData");

  // Telegram puts initData in the address each time it opens the Mini App: then sign in with
  // it even over an open session (another account may have opened the page on this device,
  // which the session's user, kept on the form, also shows).
  // The sign-in page also uses what Telegram's script kept; after a sign-in the address says
  // so, and if the session did not hold (cookies refused) it stops there instead of looping.
  var signIn = document.getElementById("telegram-sign-in");
  var needed = signIn && signIn.hasAttribute("data-needed");
  var unsafe = tg && tg.initDataUnsafe && tg.initDataUnsafe.user;
  var someoneElse = signIn && unsafe && String(unsafe.id) !== signIn.getAttribute("data-user");
  var initData = fromAddress || ((needed || someoneElse) && tg && tg.initData);
  var signedIn = new URLSearchParams(window.location.search).has("signed-in");
  if (signIn && initData && !(needed && signedIn)) {
    signIn.elements.init_data.value = initData;
    document.body.classList.add("signing-in");
    signIn.submit();
    return;
  }
  if (!tg || !tg.initData) {
    return;
  }
  tg.ready();
  tg.expand();

  var colours = {
    secondary_bg_color: "--bg",
    section_bg_color: "--card",
    text_color: "--text",
    hint_color: "--hint",
    link_color: "--accent",
    button_color: "--accent",
    button_text_color: "--accent-text",
    destructive_text_color: "--danger",
    section_separator_color: "--line"
  };
  function paint() {
    var theme = tg.themeParams || {};
    var style = document.documentElement.style;
    Object.keys(colours).forEach(function (name) {
      if (/^#[0-9a-fA-F]{3,8}$/.test(theme[name] || "")) {
        style.setProperty(colours[name], theme[name]);
      }
    });
    if (!theme.section_bg_color && theme.bg_color) {
      style.setProperty("--card", theme.bg_color);
    }
  }
  paint();
  tg.onEvent("themeChanged", paint);

  var back = document.body.getAttribute("data-back");
  if (back) {
    tg.BackButton.onClick(function () { window.location.href = back; });
    tg.BackButton.show();
  } else {
    tg.BackButton.hide();
  }

  document.querySelectorAll("a.external").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      tg.openLink(link.href);
    });
  });

  document.querySelectorAll("button[data-stars]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!tg.openInvoice) {
        return;
      }
      event.preventDefault();
      var data = new FormData(button.form);
      if (button.name) {
        data.append(button.name, button.value);  // a subscription says so
      }
      fetch(button.formAction, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (answer) {
        if (!answer.ok) {
          throw new Error(String(answer.status));
        }
        return answer.json();
      }).then(function (invoice) {
        tg.openInvoice(invoice.url, function (status) {
          if (status === "paid") {
            window.location.href = "/app?done=paid";
          }
        });
      }).catch(function () {
        button.form.requestSubmit(button);  // the page itself says what went wrong
      });
    });
  });
})();

// Cards through Stripe (loaded by the checkout page, and the account's saved cards page, only when Stripe is
// configured).
// The card is typed into Stripe's own element and goes from the browser to Stripe; the payment form
// carries only Stripe's id for it (a PaymentMethod pm_…, or a token tok_… where the script offers no
// PaymentMethods, as localstripe's mock does). When the bank wants the buyer to confirm (3-D Secure), the
// page comes back with #payment-action: Stripe's script opens the bank's step, then #resume-form takes the
// buyer back to the same payment attempt. Saving a card from the account page (#card-setup-form) asks the
// server for a SetupIntent, has Stripe confirm it with the card (and the bank, if it wants 3-D Secure), and
// sends only the SetupIntent's id. htmx runs this file again each time it swaps the page in, so it keeps its
// state on window and sets itself up once per page.
(function () {
  "use strict";
  var state = window.boxofficeStripe || (window.boxofficeStripe = {});

  function settings() {
    return document.querySelector("[data-stripe-key]");
  }

  function withStripe(holder, then) {
    if (window.Stripe) { then(); return; }
    var script = document.querySelector("script[data-stripe-js]");
    if (!script) {
      script = document.createElement("script");
      script.src = holder.dataset.stripeJs;
      script.dataset.stripeJs = "";
      document.head.appendChild(script);
    }
    script.addEventListener("load", then);
  }

  function showError(message) {
    var box = document.getElementById("card-errors");
    if (box) { box.textContent = message; }
  }

  function setUp() {
    var holder = settings();
    if (!holder) { return; }
    withStripe(holder, function () {
      if (!state.stripe || state.key !== holder.dataset.stripeKey) {
        state.stripe = window.Stripe(holder.dataset.stripeKey);
        state.key = holder.dataset.stripeKey;
      }
      document.querySelectorAll("[data-without-javascript]").forEach(function (notice) { notice.hidden = true; });
      var mountPoint = document.getElementById("card-element");
      if (mountPoint && !mountPoint.hasChildNodes()) {
        state.card = state.stripe.elements().create("card");
        state.card.mount(mountPoint);
      }
      var action = document.getElementById("payment-action");
      if (action && !action.dataset.started) {
        action.dataset.started = "yes";
        state.stripe.confirmCardPayment(action.dataset.clientSecret).then(function () {
          // Whatever the bank answered, the server asks Stripe what became of the payment.
          document.getElementById("resume-form").requestSubmit();
        });
      }
    });
  }

  function cardId() {
    // Stripe.js makes PaymentMethods; a script without them (localstripe's mock) makes tokens.
    return Promise.resolve(state.stripe.createPaymentMethod({type: "card", card: state.card}))
      .then(function (made) {
        if (made && (made.paymentMethod || made.error)) {
          return made.error ? {error: made.error} : {id: made.paymentMethod.id};
        }
        return state.stripe.createToken(state.card).then(function (token) {
          return token.error ? {error: token.error} : {id: token.token.id};
        });
      });
  }

  if (!state.listening) {
    state.listening = true;
    // Before htmx sends the boosted form (a listener on the document, capturing, runs first): a new card is
    // given to Stripe, and the form goes with Stripe's id for it.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "pay-form" || !settings()) { return; }
      var method = form.querySelector("input[name='method']:checked");
      var token = form.querySelector("input[name='provider_token']");
      if (!method || method.value !== "card" || !token || token.value) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      if (!state.card) { showError("The card form is still loading. Please try again."); return; }
      showError("");
      cardId().then(function (result) {
        if (result.error) {
          showError(result.error.message || "Your card could not be read. Please check it.");
          return;
        }
        token.value = result.id;
        form.requestSubmit();
      });
    }, true);
    // Saving a card: a SetupIntent from the server, confirmed by Stripe with the card, then the form goes
    // (a plain submission, which this listener does not see) with the SetupIntent's id.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.id !== "card-setup-form" || !settings()) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      if (!state.card) { showError("The card form is still loading. Please try again."); return; }
      var button = form.querySelector("button[type='submit']");
      button.disabled = true;
      showError("");
      var ask = new FormData();
      ask.append("csrf_token", form.querySelector("input[name='csrf_token']").value);
      fetch(form.dataset.setupUrl, {method: "POST", body: ask, credentials: "same-origin"})
        .then(function (answer) {
          return answer.json().then(function (body) { return answer.ok ? body : Promise.reject(body); });
        })
        .then(function (setup) {
          return state.stripe.confirmCardSetup(setup.client_secret, {payment_method: {card: state.card}});
        })
        .then(function (result) {
          if (result.error) { return Promise.reject(result.error); }
          form.querySelector("input[name='setup_intent']").value = result.setupIntent.id;
          form.submit();
        })
        .catch(function (failure) {
          button.disabled = false;
          showError((failure && (failure.message || failure.error)) || "Your card could not be saved. Please try again.");
        });
    }, true);
    document.addEventListener("htmx:load", setUp);
  }
  setUp();
}());

// The checkout form's total, updated as the buyer types (the server computes the charge itself).
(function () {
  "use strict";
  var form = document.getElementById("checkout-form");
  if (!form) { return; }
  var total = document.getElementById("total");
  var seats = document.getElementById("seats");
  var currency = form.dataset.currency.toUpperCase();
  var format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
  function update() {
    var interval = form.querySelector("input[name=interval]:checked");
    var users = parseInt(seats.value, 10);
    if (!interval || !(users >= parseInt(seats.min, 10) && users <= parseInt(seats.max, 10))) {
      total.textContent = "enter " + seats.min + " to " + seats.max + " users";
      return;
    }
    var yearly = interval.value === "year";
    var unit = parseInt(yearly ? form.dataset.annual : form.dataset.monthly, 10);
    // As the server writes it: "$2,500.00 USD per year" (the currency named, not just "$").
    total.textContent = format.format((unit * users) / 100) + " " + currency + (yearly ? " per year" : " per month");
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}());

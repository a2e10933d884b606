from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("", views.fees, name="fees"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("waiver/", views.waiver, name="waiver"),
    path("receipts/<int:payment_id>/", views.receipt, name="receipt"),
    path("pay/", views.parent_pay, name="parent_pay"),
    path("pay/checkout/", views.parent_checkout, name="parent_checkout"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from jobs.api.account import WebhookSecretRotateView, WebhookSecretView
from jobs.api.batch_views import BatchViewSet
from jobs.api.views import JobViewSet, PresetListView, StepCatalogueView

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("batches", BatchViewSet, basename="batch")

urlpatterns = [
    path("steps/", StepCatalogueView.as_view(), name="step-catalogue"),
    path("presets/", PresetListView.as_view(), name="preset-list"),
    path("account/webhook-secret/", WebhookSecretView.as_view(), name="webhook-secret"),
    path(
        "account/webhook-secret/rotate/", WebhookSecretRotateView.as_view(),
        name="webhook-secret-rotate",
    ),
    path("", include(router.urls)),
]

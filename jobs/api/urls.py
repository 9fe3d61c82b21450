from django.urls import include, path
from rest_framework.routers import DefaultRouter

from jobs.api.views import JobViewSet, StepCatalogueView

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    path("steps/", StepCatalogueView.as_view(), name="step-catalogue"),
    path("", include(router.urls)),
]

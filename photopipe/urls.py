from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "photopipe.errors.bad_request"
handler403 = "photopipe.errors.permission_denied"
handler404 = "photopipe.errors.page_not_found"
handler500 = "photopipe.errors.server_error"

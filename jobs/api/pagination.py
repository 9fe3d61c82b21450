from rest_framework.pagination import PageNumberPagination


class JobPagination(PageNumberPagination):
    """?page=N, and ?page_size=N (at most 100) for clients that want bigger pages."""

    page_size_query_param = "page_size"
    max_page_size = 100

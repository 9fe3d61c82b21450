from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class JobPagination(PageNumberPagination):
    """?page=N, and ?page_size=N (at most 100) for clients that want bigger pages.

    A value that is not a positive whole number is a 400 naming the parameter (DRF would
    quietly use the default page size, or answer 404 for ``page=abc``); a page past the end
    stays a 404.
    """

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        for name in (self.page_query_param, self.page_size_query_param):
            value = request.query_params.get(name)
            if value is None or (name == self.page_query_param and value == "last"):
                continue
            if not _positive_int(value):
                raise ValidationError({name: ["must be a positive whole number"]})
        return super().get_page_size(request)


def _positive_int(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9 and int(text) > 0

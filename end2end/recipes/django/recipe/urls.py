from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import include, path
from django.utils.html import escape


def home(request):
    """Who is logged in, with the login link or the logout button."""
    user = request.user
    if user.is_authenticated:
        who = f'<p id="who">Logged in as {escape(user.first_name)} (sub {escape(user.username)})</p>'
        action = (
            '<form method="post" action="/oidc/logout/">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
            '<button id="logout">Log out</button></form>'
        )
    else:
        who = '<p id="who">Not logged in</p>'
        action = '<a id="login" href="/oidc/authenticate/">Log in with WeChat</a>'
    return HttpResponse(f"<!DOCTYPE html><title>Django recipe</title>{who}{action}")


urlpatterns = [
    path("", home),
    path("oidc/", include("mozilla_django_oidc.urls")),
]

from django import template

from sers import formatting

register = template.Library()

register.filter("dollars", formatting.dollars)
register.filter("long_date", formatting.long_date)

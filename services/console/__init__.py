"""The console: pages in Bahasa Indonesia for coordinators, agencies, kelurahan, RT and kader.

It keeps no data of its own. Every page reads the services' HTTP APIs with the signed-in
user's own token, so the services' scope, masking and read audit apply to the console as to
any other caller.
"""

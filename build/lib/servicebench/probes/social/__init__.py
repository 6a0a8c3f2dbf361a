"""Social-network channels: Mastodon, Bluesky and X.

Each sends a probe as a post that really mentions the company (or a direct message for
``mode: direct`` scenarios), keeps the network's own record of it as evidence, and collects
replies from the probe's thread, from mentions/notifications and from direct messages.
The shopper accounts live under the study's top-level ``social:`` section::

    social:
      mastodon: {instance: https://mastodon.example, token: "${MASTODON_TOKEN}"}
      bluesky: {service: https://bsky.social, handle: anna.bsky.social,
                app_password: "${BSKY_APP_PASSWORD}"}
      x: {api: https://api.x.com, token: "${X_TOKEN}"}
      max_wait: 2m       # longest wait for a rate limit to reset (real time)

and each company names the account to address, as a string or with more official accounts
whose replies count too::

    channels:
      mastodon: {handle: "@support@social.example", also: ["@hilfe@social.example"]}
      bluesky: support.example.de
      x: "@ExampleHilft"

Modules: :mod:`.http` (JSON over HTTP, rate limits, redaction), :mod:`.common` (schema,
composing, matching and storing replies), :mod:`.mastodon`, :mod:`.bluesky`, :mod:`.x`.
"""

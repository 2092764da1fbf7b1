"""Pages and notifications: who hears about a P1 ticket or an SLA breach, on which channels (Slack,
email), delivered once per channel from the outbox. See `deliver.py` for the delivery rules and
`config.py` for the policy's `notifications:` section."""

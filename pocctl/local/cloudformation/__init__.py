"""CloudFormation in `pocctl local`: stacks whose resources are made through the emulator's own
service APIs, with the caller's credentials, so that they behave as the API-made ones do."""

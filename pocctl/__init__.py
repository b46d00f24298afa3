"""pocctl: the AWS serverless order-pipeline lab as three commands."""

__version__ = "0.1.0"

# Bench baseline: examples/basic-sts with the keys passed in as variables instead of read
# through data "external", so `terraform plan` of both differs only by the credentials lookup.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

variable "access_key" {
  description = "AWS access key id."
  type        = string
  sensitive   = true
}

variable "secret_key" {
  description = "AWS secret access key."
  type        = string
  sensitive   = true
}

variable "security_token" {
  description = "STS session token."
  type        = string
  sensitive   = true
}

variable "local_aws_endpoint" {
  description = "URL of moto."
  type        = string
}

provider "aws" {
  region     = "us-east-1"
  access_key = var.access_key
  secret_key = var.secret_key
  token      = var.security_token

  skip_credentials_validation = true
  skip_get_ec2_platforms      = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  s3_force_path_style         = true

  endpoints {
    iam = var.local_aws_endpoint
    s3  = var.local_aws_endpoint
    sts = var.local_aws_endpoint
  }
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "this" {
  bucket_prefix = "vaultlet-basic-sts-"
  force_destroy = true

  tags = {
    Example   = "basic-sts"
    CreatedBy = data.aws_caller_identity.current.arn
  }
}

output "caller_arn" {
  description = "Who Terraform acted as."
  value       = data.aws_caller_identity.current.arn
}

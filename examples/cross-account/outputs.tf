output "prod_role_arn" {
  description = "ARN of the prod target role."
  value       = module.prod_role.arn
}

output "dev_role_arn" {
  description = "ARN of the dev target role."
  value       = module.dev_role.arn
}

output "vaultlet_roles" {
  description = "Bodies for `vault write aws/roles/<name>`: one assumed_role role per account, with its external id (hence sensitive)."
  sensitive   = true
  value = {
    prod-deploy = {
      credential_type = "assumed_role"
      role_arns       = [module.prod_role.arn]
      external_id     = var.accounts["prod"].external_id
      default_sts_ttl = "15m"
      max_sts_ttl     = "${var.accounts["prod"].max_session_hours}h"
    }
    dev-admin = {
      credential_type = "assumed_role"
      role_arns       = [module.dev_role.arn]
      external_id     = var.accounts["dev"].external_id
      default_sts_ttl = "1h"
      max_sts_ttl     = "${var.accounts["dev"].max_session_hours}h"
    }
  }
}

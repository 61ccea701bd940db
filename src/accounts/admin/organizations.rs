//! Organizations: listing and creating them (superadmins). They are never renamed or deleted,
//! so a user's organization always exists and a read of one can be kept.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    Set,
};
use uuid::Uuid;

use super::ActingAdmin;
use super::paging::{Page, PageRequest};
use crate::accounts::domain::{DisplayName, OrganizationId};
use crate::accounts::{AccountError, Accounts};
use crate::db;
use crate::entities::organization;

/// An organization as the service hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationView {
    pub id: OrganizationId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<organization::Model> for OrganizationView {
    fn from(organization: organization::Model) -> Self {
        Self {
            id: OrganizationId::from(organization.id),
            name: organization.name,
            created_at: organization.created_at,
        }
    }
}

impl Accounts {
    /// A page of organizations, newest first.
    ///
    /// # Errors
    /// `Forbidden` unless a superadmin.
    pub async fn list_organizations(
        &self,
        admin: &ActingAdmin,
        page: PageRequest,
    ) -> Result<Page<OrganizationView>, AccountError> {
        admin.require_superadmin("Only a superadmin can list organizations.")?;
        let mut query = organization::Entity::find();
        if let Some(after) = page.after {
            query = query
                .filter(after.after(organization::Column::CreatedAt, organization::Column::Id));
        }
        let rows = query
            .order_by_desc(organization::Column::CreatedAt)
            .order_by_desc(organization::Column::Id)
            .limit(page.first + 1)
            .all(self.db())
            .await?;
        let page = Page::from_rows(rows, page);
        Ok(Page {
            items: page.items.into_iter().map(OrganizationView::from).collect(),
            has_next_page: page.has_next_page,
        })
    }

    /// How many organizations there are.
    ///
    /// # Errors
    /// `Forbidden` unless a superadmin.
    pub async fn count_organizations(&self, admin: &ActingAdmin) -> Result<u64, AccountError> {
        use sea_orm::PaginatorTrait as _;
        admin.require_superadmin("Only a superadmin can list organizations.")?;
        Ok(organization::Entity::find().count(self.db()).await?)
    }

    /// # Errors
    /// `Forbidden` unless a superadmin; `OrganizationNameTaken`.
    #[tracing::instrument(skip_all, fields(admin.id = %admin.user_id()))]
    pub async fn create_organization(
        &self,
        admin: &ActingAdmin,
        name: DisplayName,
    ) -> Result<OrganizationView, AccountError> {
        admin.require_superadmin("Only a superadmin can create organizations.")?;
        let inserted = organization::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name.into_string()),
            created_at: Set(Utc::now()),
        }
        .insert(self.db())
        .await;
        match inserted {
            Ok(organization) => Ok(organization.into()),
            Err(error) if db::is_unique_violation(&error) => {
                Err(AccountError::OrganizationNameTaken)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// An organization by id, for showing a user's: no reach check, since whoever may see the
    /// user may see the name of its organization. Kept in memory once read (never changes).
    ///
    /// # Errors
    /// A database error.
    pub async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationView>, AccountError> {
        if let Some(known) = self.inner.organizations.get(id) {
            return Ok(Some(known));
        }
        let found = organization::Entity::find_by_id(Uuid::from(id))
            .one(self.db())
            .await?
            .map(OrganizationView::from);
        if let Some(found) = &found {
            self.inner.organizations.remember(found.clone());
        }
        Ok(found)
    }
}

/// Organizations read so far. They never change once created, so an entry never goes stale;
/// bounded so that many organizations cannot grow it without end.
#[derive(Default)]
pub(in crate::accounts) struct KnownOrganizations {
    entries: std::sync::RwLock<std::collections::HashMap<OrganizationId, OrganizationView>>,
}

impl KnownOrganizations {
    const CAPACITY: usize = 10_000;

    fn get(&self, id: OrganizationId) -> Option<OrganizationView> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    fn remember(&self, organization: OrganizationView) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() < Self::CAPACITY {
            entries.insert(organization.id, organization);
        }
    }
}

CREATE TABLE "preference_answers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"campaign_id" uuid NOT NULL,
	"index" integer NOT NULL,
	"options" jsonb NOT NULL,
	"choice" integer,
	"answered_by" text NOT NULL,
	"theta_after" jsonb NOT NULL,
	"standard_errors_after" jsonb NOT NULL,
	"seconds_taken" double precision NOT NULL,
	"timings" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "preference_campaigns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"domain" text NOT NULL,
	"config" jsonb NOT NULL,
	"space" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"theta" jsonb NOT NULL,
	"standard_errors" jsonb NOT NULL,
	"pending_query" jsonb,
	"answered_count" integer DEFAULT 0 NOT NULL,
	"skipped_count" integer DEFAULT 0 NOT NULL,
	"assignee_id" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "preference_items" (
	"campaign_id" uuid NOT NULL,
	"index" integer NOT NULL,
	"label" text NOT NULL,
	"smiles" text NOT NULL,
	"features" jsonb NOT NULL,
	"properties" jsonb NOT NULL,
	CONSTRAINT "preference_items_campaign_id_index_pk" PRIMARY KEY("campaign_id","index")
);
--> statement-breakpoint
ALTER TABLE "preference_answers" ADD CONSTRAINT "preference_answers_campaign_id_preference_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."preference_campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preference_answers" ADD CONSTRAINT "preference_answers_answered_by_user_id_fk" FOREIGN KEY ("answered_by") REFERENCES "public"."user"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preference_campaigns" ADD CONSTRAINT "preference_campaigns_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preference_campaigns" ADD CONSTRAINT "preference_campaigns_assignee_id_user_id_fk" FOREIGN KEY ("assignee_id") REFERENCES "public"."user"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preference_campaigns" ADD CONSTRAINT "preference_campaigns_created_by_user_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."user"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preference_items" ADD CONSTRAINT "preference_items_campaign_id_preference_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."preference_campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "preference_answers_campaign_index_idx" ON "preference_answers" USING btree ("campaign_id","index");--> statement-breakpoint
CREATE INDEX "preference_campaigns_project_idx" ON "preference_campaigns" USING btree ("project_id","created_at");
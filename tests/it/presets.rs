//! Every preset: recognised from its header, imported, values standardised,
//! raw values kept, unmapped columns kept as attributes.

use cohort::ingest::{self, ImportOptions};

use crate::support::{contact, count, import, now, Scratch};

fn attributes(ws: &cohort::store::Workspace, key: &str) -> serde_json::Value {
    serde_json::from_str(&contact(ws, key, "attributes").unwrap_or_else(|| "{}".into())).unwrap()
}

fn raw(ws: &cohort::store::Workspace, key: &str) -> serde_json::Value {
    serde_json::from_str(&contact(ws, key, "raw").unwrap_or_else(|| "{}".into())).unwrap()
}

#[test]
fn shopify_customers_current_layout() {
    let s = Scratch::new();
    let f = s.write(
        "customers_export.csv",
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags,Loyalty tier (customer.metafields.custom.tier)\n\
         '7012345678901,  Ann ,Lee, Ann.Lee@Example.COM ,yes,,12 High St,,Boston,MA,US,02118,,'+1 (617) 555-0134,no,\"$1,234.50\",7,,no,vip,Gold\n\
         7012345678902,Bob,Stone,bob@example.com,no,,1 Main St,,Leeds,,GB,LS1 4AP,07911 123456,,yes,0.00,0,,no,,\n",
    );
    let mut ws = s.workspace();
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.preset, "shopify_customers");
    assert_eq!(r.rows_read, 2);
    assert_eq!(r.rows_rejected, 0, "{:?}", r.rejected_by_reason);
    // Shopify's protective apostrophe is stripped from the id.
    assert_eq!(
        contact(&ws, "7012345678901", "email").as_deref(),
        Some("ann.lee@example.com")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "first_name").as_deref(),
        Some("Ann")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "phone").as_deref(),
        Some("+16175550134")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "country").as_deref(),
        Some("US")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "region").as_deref(),
        Some("MA")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "consent_email").as_deref(),
        Some("granted")
    );
    assert_eq!(
        contact(&ws, "7012345678901", "consent_sms").as_deref(),
        Some("denied")
    );
    // The fallback phone column feeds the field when the first is empty.
    assert_eq!(
        contact(&ws, "7012345678902", "phone").as_deref(),
        Some("+447911123456")
    );
    // Raw values kept beside the clean ones.
    let raw = raw(&ws, "7012345678901");
    assert_eq!(raw["email"], " Ann.Lee@Example.COM ");
    assert_eq!(raw["first_name"], "  Ann ");
    assert_eq!(raw["phone"], "'+1 (617) 555-0134");
    // Unmapped columns, metafields included, are attributes.
    let attrs = attributes(&ws, "7012345678901");
    assert_eq!(attrs["Total Spent"], "$1,234.50");
    assert_eq!(attrs["Tags"], "vip");
    assert_eq!(
        attrs["Loyalty tier (customer.metafields.custom.tier)"],
        "Gold"
    );
}

#[test]
fn shopify_customers_older_layout_keys_by_email() {
    let s = Scratch::new();
    let f = s.write(
        "customers.csv",
        "First Name,Last Name,Email,Accepts Email Marketing,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt\n\
         Zoë,Müller,ZOE@EXAMPLE.DE,no,,Hauptstr. 1,,Berlin,Berlin,BE,Germany,DE,10115,030 1234567,no,10.00,1,,,no\n",
    );
    let mut ws = s.workspace();
    ws.set_setting(cohort::store::setting::DEFAULT_REGION, "DE")
        .unwrap();
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.preset, "shopify_customers");
    assert_eq!(
        contact(&ws, "zoe@example.de", "last_name").as_deref(),
        Some("Müller")
    );
    assert_eq!(
        contact(&ws, "zoe@example.de", "country").as_deref(),
        Some("DE")
    );
    assert_eq!(
        contact(&ws, "zoe@example.de", "phone").as_deref(),
        Some("+49301234567")
    );
}

#[test]
fn shopify_orders_fill_orders_and_lines() {
    let s = Scratch::new();
    let header = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount";
    let cols = header.split(',').count();
    let row = |pairs: &[(&str, &str)]| -> String {
        let names: Vec<&str> = header.split(',').collect();
        let mut cells = vec![String::new(); cols];
        for (k, v) in pairs {
            let i = names.iter().position(|n| n == k).unwrap();
            cells[i] = if v.contains(',') {
                format!("\"{v}\"")
            } else {
                v.to_string()
            };
        }
        cells.join(",")
    };
    let body = [
        row(&[
            ("Name", "#1001"),
            ("Email", "ann@example.com"),
            ("Financial Status", "paid"),
            ("Currency", "EUR"),
            ("Subtotal", "1.234,50"),
            ("Shipping", "5,00"),
            ("Taxes", "0"),
            ("Total", "1.239,50"),
            ("Created at", "2024-03-05 14:23:11 -0500"),
            ("Lineitem quantity", "2"),
            ("Lineitem name", "Trail Shoe"),
            ("Lineitem price", "600,00"),
            ("Lineitem sku", "SKU-1"),
            ("Vendor", "Hoka"),
            ("Id", "5550001"),
            ("Billing Country", "DE"),
        ]),
        row(&[
            ("Name", "#1001"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Socks"),
            ("Lineitem price", "34,50"),
            ("Lineitem sku", "SKU-2"),
            ("Vendor", "Falke"),
        ]),
        row(&[
            ("Name", "#1002"),
            ("Email", "bob@example.com"),
            ("Financial Status", "paid"),
            ("Currency", "USD"),
            ("Total", "$12.00"),
            ("Created at", "2024-03-06 09:00:00 +0000"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Cap"),
            ("Lineitem price", "12.00"),
            ("Lineitem sku", "SKU-3"),
        ]),
    ];
    let f = s.write(
        "orders_export.csv",
        format!("{header}\n{}\n", body.join("\n")),
    );
    let mut ws = s.workspace();
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.preset, "shopify_orders");
    assert_eq!(r.rows_rejected, 0, "{:?}", r.rejected_by_reason);
    assert_eq!(count(&ws, "SELECT count(*) FROM orders"), 2);
    assert_eq!(count(&ws, "SELECT count(*) FROM order_lines"), 3);
    let (total, currency, at): (i64, String, String) = ws
        .conn()
        .query_row(
            "SELECT total, currency, ordered_at FROM orders WHERE source_key = '#1001'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (total, currency.as_str(), at.as_str()),
        (123950, "EUR", "2024-03-05T19:23:11Z")
    );
    // The second line of #1001 has no order columns: it inherits the order's currency.
    let (qty, price, cur, line): (i64, i64, String, i64) = ws
        .conn()
        .query_row("SELECT quantity, unit_price, currency, line_number FROM order_lines WHERE sku = 'SKU-2'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!((qty, price, cur.as_str(), line), (1, 3450, "EUR", 2));
    let attrs: String = ws
        .conn()
        .query_row(
            "SELECT attributes FROM orders WHERE source_key = '#1001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(attrs.contains("\"Id\":\"5550001\""), "{attrs}");
}

#[test]
fn mailchimp_audience_reads_consent_from_the_file_name() {
    let s = Scratch::new();
    let header = "Email Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS";
    let sub = s.write("subscribed_members_export_1a2b.csv", format!("{header}\nann@example.com,Ann,Lee,,,03/05,4,2023-01-02 10:00:00,,2023-01-02 10:05:00,,,,,,,US,MA,2024-02-01 08:00:00,111,abc123,,\n"));
    let unsub = s.write("unsubscribed_members_export_1a2b.csv", format!("{header}\nbob@example.com,Bob,Stone,,,,2,2022-05-06 11:00:00,,,,,,,,,GB,,2024-01-01 09:00:00,222,def456,,\n"));
    let mut ws = s.workspace();
    let r1 = import(&mut ws, &sub);
    let r2 = import(&mut ws, &unsub);
    assert_eq!(
        (r1.plan.preset, r2.plan.preset),
        ("mailchimp_audience", "mailchimp_audience")
    );
    assert_eq!(r1.source, r2.source, "both status files are one source");
    assert_eq!(
        contact(&ws, "abc123", "consent_email").as_deref(),
        Some("granted")
    );
    assert_eq!(
        contact(&ws, "def456", "consent_email").as_deref(),
        Some("denied")
    );
    assert_eq!(
        contact(&ws, "abc123", "created_at").as_deref(),
        Some("2023-01-02T10:00:00Z")
    );
    assert_eq!(attributes(&ws, "abc123")["Birthday"], "03/05");
}

#[test]
fn hubspot_contacts() {
    let s = Scratch::new();
    let f = s.write(
        "hubspot-crm-exports-all-contacts.csv",
        "Record ID,First Name,Last Name,Email,Phone Number,Job Title,Contact owner,Lifecycle Stage,Create Date,Last Activity Date,Last Contacted,Company Name,Website URL,Lead Status,Original Source\n\
         51,Robert,Smith,bob.smith@acme.io,+44 (0)20 7946 0958,Buyer,Jane Doe,customer,2024-03-05 14:23,,,Acme,acme.io,OPEN,Organic search\n\
         52,Kate,,KATE@ACME.IO,,,,lead,13/03/2024 09:10,,,Acme,,,\n",
    );
    let mut ws = s.workspace();
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.preset, "hubspot_contacts");
    assert_eq!(
        contact(&ws, "51", "phone").as_deref(),
        Some("+442079460958")
    );
    assert_eq!(contact(&ws, "51", "job_title").as_deref(), Some("Buyer"));
    assert_eq!(
        contact(&ws, "51", "created_at").as_deref(),
        Some("2024-03-05T14:23:00Z")
    );
    // 13/03/2024 decides the column is day-first.
    assert_eq!(
        contact(&ws, "52", "created_at").as_deref(),
        Some("2024-03-13T09:10:00Z")
    );
    assert_eq!(attributes(&ws, "51")["Lifecycle Stage"], "customer");
}

#[test]
fn salesforce_report_and_data_loader_layouts() {
    let s = Scratch::new();
    let report = s.write(
        "report.csv",
        "Contact ID,Salutation,First Name,Last Name,Email,Mailing Street,Mailing City,Mailing State/Province,Mailing Zip/Postal Code,Mailing Country,Phone,Email Opt Out\n\
         0035g00000AbCdE,Mr.,Tom,Hardy,tom@example.com,1 Rd,Austin,TX,73301,United States,(512) 555-0199,1\n",
    );
    let api = s.write(
        "contacts_api.csv",
        "Id,FirstName,LastName,Email,Phone,MailingStreet,MailingCity,MailingState,MailingPostalCode,MailingCountry,AccountId,HasOptedOutOfEmail,MasterRecordId\n\
         0035g00000XyZaB,Ana,García,ana@example.es,+34 612 345 678,Calle 1,Madrid,,28001,España,0015g000001,false,\n",
    );
    let mut ws = s.workspace();
    assert_eq!(import(&mut ws, &report).plan.preset, "salesforce_contacts");
    assert_eq!(import(&mut ws, &api).plan.preset, "salesforce_contacts_api");
    assert_eq!(
        contact(&ws, "0035g00000AbCdE", "consent_email").as_deref(),
        Some("denied")
    );
    assert_eq!(
        contact(&ws, "0035g00000AbCdE", "country").as_deref(),
        Some("US")
    );
    assert_eq!(
        contact(&ws, "0035g00000XyZaB", "consent_email").as_deref(),
        Some("granted")
    );
    assert_eq!(
        contact(&ws, "0035g00000XyZaB", "country").as_deref(),
        Some("ES")
    );
    assert_eq!(
        contact(&ws, "0035g00000XyZaB", "phone").as_deref(),
        Some("+34612345678")
    );
}

#[test]
fn klaviyo_profiles() {
    let s = Scratch::new();
    let f = s.write(
        "klaviyo_profiles.csv",
        "Email,Phone Number,First Name,Last Name,City,Country,Email Marketing Consent,SMS Marketing Consent\n\
         liz@example.com,+33 6 12 34 56 78,Liz,Taylor,Paris,France,Subscribed,Never subscribed\n\
         max@example.com,,Max,Payne,,,Unsubscribed,\n",
    );
    let mut ws = s.workspace();
    assert_eq!(import(&mut ws, &f).plan.preset, "klaviyo_profiles");
    assert_eq!(
        contact(&ws, "liz@example.com", "consent_email").as_deref(),
        Some("granted")
    );
    assert_eq!(
        contact(&ws, "liz@example.com", "consent_sms").as_deref(),
        Some("unknown")
    );
    assert_eq!(
        contact(&ws, "liz@example.com", "country").as_deref(),
        Some("FR")
    );
    assert_eq!(
        contact(&ws, "max@example.com", "consent_email").as_deref(),
        Some("denied")
    );
}

#[test]
fn ga4_events_flattened() {
    let s = Scratch::new();
    let f = s.write(
        "ga4_events.csv",
        "event_date,event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,page_location,device.category,platform,geo.country,geo.city,traffic_source.source,traffic_source.medium,item_id,item_name,item_category,price,quantity,currency,value\n\
         20240305,1709648591000000,page_view,1234567890.1700000000,,17096,https://shop.example/,mobile,WEB,United States,Boston,google,organic,,,,,,,\n\
         20240305,1709648600123456,add_to_cart,1234567890.1700000000,7012345678901,17096,https://shop.example/p/1,mobile,WEB,United States,Boston,google,organic,SKU-1,Trail Shoe,Running,120.00,1,USD,120.00\n",
    );
    let mut ws = s.workspace();
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.preset, "ga4_events");
    assert_eq!(count(&ws, "SELECT count(*) FROM events"), 2);
    let (name, at, anon, cust, value, country, props): (String, String, String, Option<String>, Option<i64>, String, String) = ws
        .conn()
        .query_row(
            "SELECT name, occurred_at, anonymous_id, customer_key, value, country, properties FROM events WHERE name = 'add_to_cart'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), at.as_str()),
        ("add_to_cart", "2024-03-05T14:23:20.123456Z")
    );
    assert_eq!(
        (anon.as_str(), cust.as_deref(), value, country.as_str()),
        (
            "1234567890.1700000000",
            Some("7012345678901"),
            Some(12000),
            "US"
        )
    );
    assert!(props.contains("\"item_category\":\"Running\""), "{props}");
}

#[test]
fn generic_layouts_for_every_kind() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let contacts = s.write(
        "people.csv",
        "E-mail;Vorname;Nachname;Land;Geburtsdatum\nJO@EXAMPLE.COM;Jo;Ng;Deutschland;24.12.1990\n",
    );
    let r = ingest::import(
        &mut ws,
        &contacts,
        &ImportOptions::new(now()),
        &mut cohort::progress::Silent,
    );
    // German headers are not aliases: the user maps them.
    assert!(r.is_err());
    let mut o = ImportOptions::new(now());
    o.kind = Some(ingest::Kind::Contacts);
    o.overrides = vec![
        ("Vorname".into(), "first_name".into()),
        ("Land".into(), "country".into()),
        ("Geburtsdatum".into(), "birth_date".into()),
    ];
    let r = crate::support::import_with(&mut ws, &contacts, o);
    assert_eq!(r.plan.preset, "generic_contacts");
    assert_eq!(
        contact(&ws, "jo@example.com", "country").as_deref(),
        Some("DE")
    );
    assert_eq!(
        contact(&ws, "jo@example.com", "birth_date").as_deref(),
        Some("1990-12-24")
    );
    assert_eq!(attributes(&ws, "jo@example.com")["Nachname"], "Ng");

    let products = s.write("catalogue.csv", "sku,title,category,brand,price,currency,in_stock\nSKU-1,Trail Shoe,Running,Hoka,120.00,USD,true\nSKU-2,Yoga Mat,Yoga,Manduka,\"1.299,00\",JPY,no\n");
    assert_eq!(import(&mut ws, &products).plan.preset, "generic_products");
    let (price, stock): (i64, i64) = ws
        .conn()
        .query_row(
            "SELECT price, in_stock FROM products WHERE sku = 'SKU-2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((price, stock), (1299, 0), "JPY has no minor unit");

    let lines = s.write(
        "lines.csv",
        "order_id,sku,quantity,unit_price\nA1,SKU-1,2,120.00\nA1,SKU-2,1,9.99\nA2,SKU-1,1,120.00\n",
    );
    assert_eq!(import(&mut ws, &lines).plan.preset, "generic_order_lines");
    assert_eq!(
        count(
            &ws,
            "SELECT max(line_number) FROM order_lines WHERE order_key = 'A1'"
        ),
        2
    );

    let orders = s.write("orders.csv", "order_id,customer_id,email,order_date,total,currency\nA1,C1,jo@example.com,03/15/2024,249.99,USD\n");
    assert_eq!(import(&mut ws, &orders).plan.preset, "generic_orders");
    let at: String = ws
        .conn()
        .query_row(
            "SELECT ordered_at FROM orders WHERE source_key = 'A1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(at, "2024-03-15");

    let events = s.write(
        "events.csv",
        "timestamp,event,user_id,sku\n1709648591,viewed_product,C1,SKU-1\n",
    );
    assert_eq!(import(&mut ws, &events).plan.preset, "generic_events");
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM events WHERE occurred_at = '2024-03-05T14:23:11Z'"
        ),
        1
    );
}

#[test]
fn ambiguous_dates_are_decided_by_region_and_reported() {
    let s = Scratch::new();
    let f = s.write(
        "ambiguous.csv",
        "email,signup date\na@example.com,03/04/2024\nb@example.com,01/02/2024\n",
    );
    let mut ws = s.workspace();
    let r = import(&mut ws, &f);
    let d = &r.plan.dates[0];
    assert!(d.ambiguous, "{d:?}");
    assert_eq!(d.order, "month_first", "US workspace reads MM/DD");
    assert_eq!(
        contact(&ws, "a@example.com", "created_at").as_deref(),
        Some("2024-03-04")
    );
}

package policy

// Defaults are the tiers WSO2 API Manager 4.5 ships, seeded at first start.
func Defaults() []Policy {
	perMin := func(level Level, name string, n int64, desc string) Policy {
		return Policy{Level: level, Name: name, DisplayName: name, Description: desc,
			LimitType: RequestCountLimit, RequestCount: n, UnitTime: 1, TimeUnit: "min", StopOnQuotaReach: true}
	}
	return []Policy{
		perMin(Subscription, "Gold", 5000, "Allows 5000 requests per minute"),
		perMin(Subscription, "Silver", 2000, "Allows 2000 requests per minute"),
		perMin(Subscription, "Bronze", 1000, "Allows 1000 requests per minute"),
		perMin(Subscription, "Unauthenticated", 500, "Allows 500 request(s) per minute"),
		perMin(Subscription, "Unlimited", UnlimitedCount, "Allows unlimited requests"),
		perMin(Application, "10PerMin", 10, "Allows 10 request per minute"),
		perMin(Application, "20PerMin", 20, "Allows 20 request per minute"),
		perMin(Application, "50PerMin", 50, "Allows 50 request per minute"),
		perMin(Application, "Unlimited", UnlimitedCount, "Allows unlimited requests"),
		perMin(Advanced, "10KPerMin", 10000, "Allow 10000 requests per minute"),
		perMin(Advanced, "20KPerMin", 20000, "Allow 20000 requests per minute"),
		perMin(Advanced, "50KPerMin", 50000, "Allow 50000 requests per minute"),
		perMin(Advanced, "Unlimited", UnlimitedCount, "Allow unlimited requests"),
	}
}
